// The conversation list (#chat-list): previews, unread badges and order update live; the
// search box filters it as you type (Enter still searches the messages, also without
// JavaScript); the open conversation's row is marked. After a reconnect, or for a conversation
// it does not show yet, the list is read again from the server (data-list-url).

import { badgeText } from "./format.js";
import { matchesQuery, rowAfterMessage, unreadAfterRead } from "./state.js";

export function mountConversationList(listEl, { live }) {
  const me = listEl.dataset.user || null;
  const filterInput = document.getElementById("chat-filter");
  const noMatch = document.getElementById("chat-filter-empty");
  let active = null;

  const rowOf = (conversation) => listEl.querySelector(`.chat-row[data-conversation="${conversation}"]`);

  function applyFilter() {
    const query = filterInput ? filterInput.value : "";
    let shown = 0;
    for (const row of listEl.querySelectorAll(".chat-row")) {
      const title = row.querySelector(".chat-row-title")?.textContent || "";
      row.hidden = !matchesQuery(title, query);
      if (!row.hidden) shown += 1;
    }
    if (noMatch) {
      noMatch.hidden = !(query.trim() && shown === 0);
      const term = noMatch.querySelector("[data-filter-term]");
      if (term) term.textContent = query.trim();
    }
  }

  function markActive() {
    for (const row of listEl.querySelectorAll(".chat-row")) {
      const link = row.querySelector("a");
      const current = Number(row.dataset.conversation) === active;
      row.classList.toggle("is-open", current);
      if (current) link?.setAttribute("aria-current", "page");
      else link?.removeAttribute("aria-current");
    }
  }

  let refreshTimer = null;
  function refresh() {
    // Several events often arrive together (a system message and a membership change).
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(reload, 250);
  }

  async function reload() {
    const response = await fetch(listEl.dataset.listUrl || window.location.href, { credentials: "same-origin" });
    if (!response.ok) return;
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = doc.getElementById("chat-list");
    if (!fresh) return;
    listEl.replaceChildren(...[...fresh.children].map((node) => document.importNode(node, true)));
    listEl.classList.toggle("d-none", !listEl.children.length);
    if (listEl.children.length) document.getElementById("chat-list-empty")?.remove();
    markActive();
    applyFilter();
    document.dispatchEvent(new CustomEvent("chat:list-updated"));
  }

  function setBadge(row, count) {
    const badge = row.querySelector(".chat-unread");
    badge.textContent = badgeText(count);
    badge.dataset.count = String(count);
    badge.setAttribute("aria-label", `${count} unread`);
    badge.classList.toggle("d-none", count === 0);
    row.classList.toggle("has-unread", count > 0 && row.dataset.muted !== "1");
  }

  const unreadOf = (row) => Number(row.querySelector(".chat-unread")?.dataset.count) || 0;

  document.addEventListener("live:message.new", (event) => {
    const message = event.detail.message;
    const row = rowOf(message.conversation);
    if (!row) {
      if (listEl.dataset.tab !== "archived") refresh();
      return;
    }
    const next = rowAfterMessage({ lastSeq: Number(row.dataset.lastSeq), unread: unreadOf(row) }, message, me);
    if (!next) return; // already counted
    row.dataset.lastSeq = String(next.lastSeq);
    row.querySelector(".chat-row-text").textContent = next.text;
    const who = row.querySelector(".chat-row-who");
    if (who) who.textContent = next.who ? `${next.who}:` : "";
    else if (next.who) {
      const span = document.createElement("span");
      span.className = "chat-row-who";
      span.textContent = `${next.who}:`;
      row.querySelector(".chat-row-preview").prepend(span, " ");
    }
    const time = row.querySelector(".chat-row-time");
    if (time) {
      time.textContent = "now";
      time.dateTime = message.created_at;
    }
    // The conversation open in this tab is being read as it arrives.
    setBadge(row, Number(row.dataset.conversation) === active ? 0 : next.unread);
    listEl.prepend(row);
  });
  document.addEventListener("live:read", (event) => {
    if (event.detail.user !== me) return;
    const row = rowOf(event.detail.conversation);
    if (row) setBadge(row, unreadAfterRead({ lastSeq: Number(row.dataset.lastSeq), unread: unreadOf(row) }, event.detail.seq));
  });
  document.addEventListener("live:conversation.updated", refresh);
  // After a reconnect the counts may be stale: read them again.
  let greeted = live.state() === "online";
  document.addEventListener("live:hello", () => {
    if (greeted) refresh();
    greeted = true;
  });
  if (filterInput) filterInput.addEventListener("input", applyFilter);
  applyFilter();

  return {
    /** Mark the row of the conversation open in the other pane (null: none). */
    setActive(conversation) {
      active = conversation;
      markActive();
      const row = conversation ? rowOf(conversation) : null;
      if (row) setBadge(row, 0); // opening a conversation reads it
    },
  };
}
