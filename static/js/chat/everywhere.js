// On every signed-in page: the navbar's unread-conversations badge (#chat-nav-badge) and the
// presence dots of friends ([data-presence-user]) stay live.

import { badgeText } from "./format.js";
import { FRAME } from "./protocol.js";
import { Presence } from "./state.js";

const PRESENCE_REFRESH_MS = 60000;

function setChatBadge(count) {
  const badge = document.getElementById("chat-nav-badge");
  if (!badge || typeof count !== "number" || count < 0) return;
  badge.textContent = badgeText(count);
  badge.setAttribute("aria-label", `${count} unread conversations`);
  badge.classList.toggle("d-none", count === 0);
}

function chatBadge(live) {
  let me = document.querySelector("#chat[data-user], #chat-list[data-user]")?.dataset.user || null;
  let timer = null;
  // Several events often come together (a message in a group, then a read): ask once.
  const ask = () => {
    clearTimeout(timer);
    timer = setTimeout(() => live.send({ type: FRAME.UNREAD_QUERY }), 300);
  };
  document.addEventListener("live:hello", (event) => {
    me = event.detail.user;
    setChatBadge(event.detail.chat_unread);
  });
  document.addEventListener("live:chat.unread", (event) => setChatBadge(event.detail.count));
  document.addEventListener("live:message.new", (event) => {
    const sender = event.detail.message && event.detail.message.sender;
    if (!sender || sender.public_id !== me) ask();
  });
  document.addEventListener("live:read", (event) => {
    if (event.detail.user === me) ask();
  });
  document.addEventListener("live:conversation.updated", ask);
}

/** Show or hide every presence dot under root from the current state. */
export function paintPresence(presence, root = document) {
  for (const dot of root.querySelectorAll("[data-presence-user]")) dot.hidden = !presence.has(dot.dataset.presenceUser);
}

function presenceDots(live) {
  const presence = new Presence();
  const paint = () => paintPresence(presence);
  // Asking subscribes this socket to "presence" events; asking again now and then also clears
  // a friend whose server died without saying goodbye (their entry expires).
  const query = () => live.send({ type: FRAME.PRESENCE_QUERY });
  document.addEventListener("live:hello", query);
  document.addEventListener("live:presence.state", (event) => {
    presence.replace(event.detail.online);
    paint();
  });
  document.addEventListener("live:presence", (event) => {
    presence.update(event.detail.user, event.detail.online);
    paint();
  });
  // New markup (a conversation or list swapped in by the app shell) gets the dots right at once.
  document.addEventListener("chat:pane-swapped", paint);
  document.addEventListener("chat:list-updated", paint);
  setInterval(() => {
    if (live.state() === "online" && document.visibilityState === "visible") query();
  }, PRESENCE_REFRESH_MS);
  if (live.state() === "online") {
    query();
    live.send({ type: FRAME.UNREAD_QUERY });
  }
}

export function startEverywhere(live) {
  chatBadge(live);
  presenceDots(live);
}
