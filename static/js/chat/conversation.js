// The open conversation (#chat): shows what the live socket delivers exactly once and in seq
// order (protocol.js's ConversationSync), sends from the composer through the tab's delivery
// (delivery.js), uploads files with progress, shows typing and "Seen", marks read, and loads
// older messages when scrolled to the top. mountConversation() returns a handle whose destroy()
// removes every listener, so the app shell can swap conversations without reloading the page.
// Without JavaScript the same markup works as plain links and POST forms.

import { sizeLabel } from "./format.js";
import { ConversationSync, newClientId, readFrame, RESYNC_TIMEOUT_MS, typingFrame } from "./protocol.js";
import { mountEmojiPicker } from "./emoji-picker.js";
import { insertAt, toggleAction } from "./reactions.js";
import {
  fillBody,
  fillReactions,
  formatTimes,
  messageElement,
  refreshQuotes,
  setDelivery,
  setIdentity,
  syncDays,
} from "./render.js";
import { ReadMarker, seenVisible, TYPING_SHOW_MS, TypingThrottle, typingText } from "./state.js";
import { upload } from "./upload.js";

export function mountConversation(root, { live, delivery }) {
  const abort = new AbortController();
  const on = (target, type, handler) => target.addEventListener(type, handler, { signal: abort.signal });
  const timers = new Set();
  const later = (fn, ms) => {
    const id = setTimeout(() => {
      timers.delete(id);
      fn();
    }, ms);
    timers.add(id);
    return id;
  };
  const cancel = (id) => {
    clearTimeout(id);
    timers.delete(id);
  };

  const conversationId = Number(root.dataset.conversation);
  const me = root.dataset.user || null;
  const isGroup = root.dataset.kind === "group";
  const list = root.querySelector("#chat-messages");
  const scroller = root.querySelector("#chat-scroll");
  const composer = root.querySelector("#composer");
  const input = composer.querySelector("textarea[name=body]");
  const liveError = root.querySelector("#composer-live-error");
  const typingLine = root.querySelector("#chat-typing");
  const seen = root.querySelector("#chat-seen");
  const filesInput = root.querySelector("#composer-files");
  const picked = root.querySelector("#composer-files-list");
  const progress = root.querySelector("#composer-upload");
  const csrf = composer.querySelector("input[name=csrfmiddlewaretoken]")?.value || "";
  const messagesUrl = root.dataset.messagesUrl;
  const ctx = { me, isGroup, csrf, base: messagesUrl.replace(/messages\/$/, "") };
  const replyBar = root.querySelector("#composer-reply");
  const replyInput = composer.querySelector("input[name=reply_to]");
  const emojiButton = root.querySelector("#composer-emoji");
  const pickerElement = root.querySelector("#emoji-picker");
  const picker = pickerElement ? mountEmojiPicker(pickerElement, { container: root }) : null;

  const stored = [...list.querySelectorAll(".chat-message[data-id]")];
  const sync = new ConversationSync({
    conversation: conversationId,
    lastSeq: Math.max(0, ...stored.map((item) => Number(item.dataset.seq))),
    changeCursor: Number(root.dataset.changeSeq) || 0,
    known: stored.map((item) => Number(item.dataset.id)),
  });
  const reads = new ReadMarker();
  const typing = new TypingThrottle();
  let otherRead = Number(root.dataset.otherRead) || 0;
  let typingTimer = null;
  let resyncTimer = null;

  const nearBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
  const toBottom = () => {
    scroller.scrollTop = scroller.scrollHeight;
  };
  const byClientId = (clientId) => list.querySelector(`.chat-message[data-client-id="${CSS.escape(clientId)}"]`);
  const refreshDays = () => syncDays(list);

  /** Put a stored message in its place by seq (pending ones stay last). */
  function place(item) {
    const seq = Number(item.dataset.seq);
    list.querySelector("#chat-empty")?.remove();
    for (const other of list.querySelectorAll(".chat-message[data-seq]")) {
      if (other !== item && Number(other.dataset.seq) > seq) {
        list.insertBefore(item, other);
        return;
      }
    }
    const firstPending = list.querySelector(".chat-message.pending, .chat-message.failed");
    if (firstPending && firstPending !== item) list.insertBefore(item, firstPending);
    else list.append(item);
  }

  function updateSeen() {
    if (!seen) return;
    const mine = list.querySelectorAll(".chat-message.mine[data-seq]");
    const lastMineSeq = mine.length ? Number(mine[mine.length - 1].dataset.seq) : 0;
    seen.hidden = !seenVisible({ lastMineSeq, lastSeq: sync.lastSeq, otherRead });
  }

  function markRead() {
    if (!reads.due(sync.lastSeq, document.visibilityState === "visible")) return;
    if (live.send(readFrame(conversationId, sync.lastSeq))) reads.moved(sync.lastSeq);
  }

  function resync() {
    if (live.state() !== "online") return;
    sync.resyncSent(live.send(sync.resyncFrame()));
    cancel(resyncTimer);
    resyncTimer = later(() => {
      sync.resyncAbandoned();
      if (sync.behind()) resync(); // a message it held back is still missing
    }, RESYNC_TIMEOUT_MS);
  }

  /** A stored message from any source (push, ack, resync): show it once, in order. */
  function accept(message) {
    const verdict = sync.receive(message);
    if (verdict === "known") {
      const existing = list.querySelector(`.chat-message[data-id="${message.id}"]`);
      if (existing && (message.deleted || message.edited_at)) fillBody(existing, message);
      if (existing && message.reactions) fillReactions(existing, message, ctx);
      return;
    }
    if (verdict === "gap") resync(); // something was missed; the database fills it in order
    if (verdict !== "new") return;
    const stick = nearBottom();
    let item = message.client_id ? byClientId(message.client_id) : null;
    if (item) {
      setIdentity(item, message, ctx);
      fillBody(item, message); // the server's rendering replaces the pending plain text
      setDelivery(item, "sent");
    } else {
      item = messageElement(message, ctx);
    }
    place(item);
    refreshDays();
    root.dataset.headSeq = String(sync.lastSeq);
    if (message.sender && typingLine) typingLine.textContent = "";
    updateSeen();
    if (stick || (message.sender && message.sender.public_id === me)) toBottom();
    markRead();
  }

  /** An edit, delete or reaction change (live or from a resync): update the message and the quotes of it. */
  function applyChange(message) {
    if (message.conversation !== conversationId) return;
    const item = list.querySelector(`.chat-message[data-id="${message.id}"]`);
    if (item) {
      fillBody(item, message);
      fillReactions(item, message, ctx);
    }
    refreshQuotes(list, message);
  }

  function showError(text) {
    liveError.textContent = text;
    liveError.hidden = !text;
  }

  function pendingItem(entry) {
    const item = messageElement(
      {
        kind: "text",
        body: entry.body,
        client_id: entry.clientId,
        sender: { public_id: me },
        created_at: entry.createdAt,
        reply_to: entry.reply,
      },
      ctx,
      { status: entry.status },
    );
    setDelivery(item, entry.status, entry.error);
    return item;
  }

  // --- Files -------------------------------------------------------------------------------

  let uploadClientId = null; // kept across retries of the same upload: the server stores it once
  let currentUpload = null;

  function showPicked() {
    picked.replaceChildren();
    for (const file of filesInput.files) {
      const li = document.createElement("li");
      const icon = document.createElement("i");
      icon.className = file.type.startsWith("image/") ? "bi bi-image" : "bi bi-paperclip";
      icon.setAttribute("aria-hidden", "true");
      const name = document.createElement("span");
      name.textContent = `${file.name} (${sizeLabel(file.size)})`;
      li.append(icon, name);
      picked.append(li);
    }
    picked.hidden = !filesInput.files.length;
  }

  function checkFiles() {
    const maxFiles = Number(filesInput.dataset.maxFiles) || 5;
    const maxBytes = Number(filesInput.dataset.maxBytes) || 10 * 1024 * 1024;
    if (filesInput.files.length > maxFiles) return `Attach at most ${maxFiles} files to one message.`;
    for (const file of filesInput.files) {
      if (file.size > maxBytes) return `${file.name} is too large: the limit is ${sizeLabel(maxBytes)}.`;
    }
    return "";
  }

  function showProgress(state, { sent = 0, total = 0, text = "" } = {}) {
    if (!progress) return;
    progress.hidden = state === "idle";
    progress.dataset.state = state;
    const bar = progress.querySelector("progress");
    const label = progress.querySelector(".chat-upload-text");
    const cancelButton = progress.querySelector("[data-action=cancel-upload]");
    const retryButton = progress.querySelector("[data-action=retry-upload]");
    if (state === "uploading") {
      const percent = total ? Math.round((sent / total) * 100) : 0;
      bar.hidden = false;
      bar.value = percent;
      label.textContent = `Uploading… ${percent}% (${sizeLabel(sent)} of ${sizeLabel(total)})`;
    } else {
      bar.hidden = state !== "processing";
      if (state === "processing") bar.removeAttribute("value"); // indeterminate: the server checks the files
      label.textContent = text;
    }
    cancelButton.hidden = state !== "uploading";
    retryButton.hidden = state !== "failed";
  }

  async function sendFiles() {
    // Files go over HTTP (multipart) to the same send URL; the stored message comes back as
    // JSON and also arrives live to every member like any other message.
    const problem = checkFiles();
    if (problem) {
      showError(problem);
      return;
    }
    if (currentUpload) return;
    showError("");
    const data = new FormData(composer);
    uploadClientId ||= newClientId();
    data.set("client_id", uploadClientId);
    const sendButton = composer.querySelector(".chat-send");
    sendButton.disabled = true;
    picked.classList.add("text-body-secondary");
    const total = [...filesInput.files].reduce((sum, file) => sum + file.size, 0);
    showProgress("uploading", { sent: 0, total });
    currentUpload = upload({
      url: composer.action,
      data,
      csrf,
      onProgress: (sent, total) => {
        if (sent < total) showProgress("uploading", { sent, total });
        else showProgress("processing", { text: "Checking the files…" });
      },
    });
    try {
      const answer = await currentUpload.done;
      if (!answer.ok) {
        showProgress("failed", { text: answer.body.detail || "The files could not be sent." });
        return;
      }
      input.value = "";
      filesInput.value = "";
      uploadClientId = null;
      setReply(null);
      showPicked();
      showProgress("idle");
      accept(answer.body.message);
      toBottom();
    } catch (error) {
      if (error.name === "AbortError") showProgress("idle");
      else showProgress("failed", { text: "The files could not be sent: the connection failed." });
    } finally {
      currentUpload = null;
      sendButton.disabled = false;
      picked.classList.remove("text-body-secondary");
    }
  }

  if (filesInput) {
    on(filesInput, "change", () => {
      uploadClientId = null; // other files: another message
      showProgress("idle");
      showError(checkFiles());
      showPicked();
    });
  }
  if (progress) {
    on(progress, "click", (event) => {
      const action = event.target.closest("[data-action]")?.dataset.action;
      if (action === "cancel-upload") currentUpload?.abort();
      if (action === "retry-upload") sendFiles();
    });
  }

  // --- Composer ----------------------------------------------------------------------------

  on(composer, "submit", (event) => {
    const body = input.value.trim();
    if (filesInput && filesInput.files.length) {
      event.preventDefault();
      sendFiles();
      return;
    }
    if (!body) {
      event.preventDefault();
      showError("Write something before sending.");
      return;
    }
    // Not connected: the form posts as without JavaScript, and the hidden client_id still
    // makes a double submit harmless.
    if (live.state() !== "online") return;
    event.preventDefault();
    showError("");
    const entry = delivery.send({ conversation: conversationId, body, reply: replying });
    list.querySelector("#chat-empty")?.remove();
    list.append(pendingItem(entry));
    refreshDays();
    input.value = "";
    setReply(null);
    typing.reset(); // the message ended the typing; the next keystroke may say so again
    toBottom();
    input.focus();
  });

  on(input, "keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });

  on(input, "input", () => {
    const now = Date.now();
    if (typing.due(now, input.value) && live.send(typingFrame(conversationId))) typing.sent(now);
  });

  on(list, "click", (event) => {
    const quote = event.target.closest(".chat-quote");
    if (quote) {
      event.preventDefault();
      showOriginal(quote);
      return;
    }
    const action = event.target.closest("a[data-action]");
    if (action) {
      const message = action.closest(".chat-message[data-id]");
      if (!message) return;
      event.preventDefault();
      if (action.dataset.action === "reply") startReply(message);
      if (action.dataset.action === "react") openReactions(action, message);
      return;
    }
    if (suppressClick && event.target.closest(".chat-reaction")) {
      event.preventDefault();
      suppressClick = false;
      return;
    }
    const button = event.target.closest("button[data-action]");
    const item = button?.closest(".chat-message[data-client-id]");
    if (!item) return;
    if (button.dataset.action === "retry") delivery.retry(item.dataset.clientId);
    if (button.dataset.action === "discard") {
      delivery.discard(item.dataset.clientId);
      item.remove();
      refreshDays();
    }
  });

  // --- Replies, reactions, emoji ------------------------------------------------------------

  let replying = null; // { id, seq, sender, excerpt, deleted }: the quote of the message being answered
  let suppressClick = false; // a long press showed who reacted: the click that follows does not toggle

  function senderName(item) {
    if (item.classList.contains("mine")) return "You";
    return item.dataset.senderName || root.querySelector("#chat-title")?.textContent.trim() || "";
  }

  function excerptOf(item) {
    const body = item.querySelector(".chat-body");
    const line = (body?.innerText || "").split("\n").map((part) => part.trim()).find(Boolean) || "";
    if (!line && item.querySelector(".chat-files")) return "File";
    return line.length <= 120 ? line : `${line.slice(0, 119).trimEnd()}…`;
  }

  function setReply(reply) {
    replying = reply;
    if (replyInput) replyInput.value = reply ? String(reply.id) : "";
    if (!replyBar) return;
    replyBar.hidden = !reply;
    if (!reply) return;
    replyBar.querySelector(".chat-replying-author").textContent = reply.sender === "You" ? "yourself" : reply.sender;
    replyBar.querySelector(".chat-replying-quote").textContent = reply.excerpt;
  }

  function startReply(item) {
    setReply({
      id: Number(item.dataset.id),
      seq: Number(item.dataset.seq),
      sender: senderName(item),
      sender_public_id: item.dataset.sender || null,
      excerpt: excerptOf(item),
      deleted: false,
    });
    input.focus();
  }

  if (replyBar) {
    on(replyBar, "click", (event) => {
      if (!event.target.closest("[data-action=cancel-reply]")) return;
      event.preventDefault();
      setReply(null);
      input.focus();
    });
  }
  on(input, "keydown", (event) => {
    if (event.key === "Escape" && replying && !picker?.isOpen) setReply(null);
  });
  if (replyInput?.value) {
    // Opened from a Reply link (?reply=) or a refused send: keep answering that message.
    const item = list.querySelector(`.chat-message[data-id="${CSS.escape(replyInput.value)}"]`);
    replying = {
      id: Number(replyInput.value),
      seq: Number(item?.dataset.seq) || 0,
      sender: replyBar?.querySelector(".chat-replying-author")?.textContent || "",
      excerpt: replyBar?.querySelector(".chat-replying-quote")?.textContent || "",
      deleted: false,
    };
  }

  function showOriginal(quote) {
    const original = list.querySelector(`.chat-message[data-id="${CSS.escape(quote.dataset.replyTo)}"]`);
    if (!original) {
      showError("The original message is further up: scroll up to load older messages.");
      return;
    }
    original.scrollIntoView({ block: "center", behavior: "smooth" });
    original.classList.remove("chat-flash");
    void original.offsetWidth; // restart the highlight
    original.classList.add("chat-flash");
    later(() => original.classList.remove("chat-flash"), 1600);
  }

  async function react(item, emoji, action) {
    const body = new FormData();
    body.set("emoji", emoji);
    body.set("action", action);
    try {
      const response = await fetch(`${ctx.base}messages/${item.dataset.id}/react/`, {
        method: "POST",
        body,
        headers: { Accept: "application/json", "X-CSRFToken": csrf },
        credentials: "same-origin",
        signal: abort.signal,
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) {
        showError(answer.detail || "The reaction could not be saved.");
        return;
      }
      showError("");
      if (answer.message) applyChange(answer.message);
    } catch (error) {
      if (error.name !== "AbortError") showError("The reaction could not be saved: the connection failed.");
    }
  }

  function myReactions(item) {
    return [...item.querySelectorAll(".chat-reaction.mine")].map((chip) => ({
      emoji: chip.dataset.emoji,
      user_public_ids: [me],
    }));
  }

  function openReactions(button, item) {
    if (!picker) return;
    picker.open(button, {
      heading: "React with an emoji",
      align: item.classList.contains("mine") ? "end" : "start",
      pick: (emoji) => react(item, emoji, toggleAction(myReactions(item), emoji, me)),
    });
  }

  on(list, "submit", (event) => {
    const form = event.target.closest(".chat-reaction-form");
    const item = form?.closest(".chat-message[data-id]");
    if (!form || !item) return;
    event.preventDefault();
    react(item, form.elements.emoji.value, form.elements.action.value);
  });

  // Who reacted: the tooltip shows on hover and keyboard focus (CSS); a long press shows it on touch.
  let pressTimer = null;
  on(list, "pointerdown", (event) => {
    const chip = event.target.closest(".chat-reaction");
    if (!chip || event.pointerType === "mouse") return;
    cancel(pressTimer);
    pressTimer = later(() => {
      for (const other of list.querySelectorAll(".chat-reaction.show-who")) other.classList.remove("show-who");
      chip.classList.add("show-who");
      suppressClick = true;
    }, 500);
  });
  for (const type of ["pointerup", "pointercancel", "pointerleave"]) on(list, type, () => cancel(pressTimer));
  on(document, "pointerdown", (event) => {
    if (!event.target.closest(".chat-reaction.show-who")) {
      for (const chip of list.querySelectorAll(".chat-reaction.show-who")) chip.classList.remove("show-who");
    }
  });
  on(list, "contextmenu", (event) => {
    if (event.target.closest(".chat-reaction")) event.preventDefault(); // the long press is ours
  });

  if (emojiButton && picker) {
    emojiButton.hidden = false;
    on(emojiButton, "click", () => {
      picker.open(emojiButton, {
        heading: "Insert an emoji",
        pick: (emoji) => {
          const { value, caret } = insertAt(input.value, input.selectionStart, input.selectionEnd, emoji);
          input.value = value;
          input.focus();
          input.setSelectionRange(caret, caret);
        },
      });
    });
  }

  // --- Live events ---------------------------------------------------------------------------

  on(document, "chat:delivery", (event) => {
    const { clientId, conversation, status, detail } = event.detail;
    if (conversation !== conversationId) return;
    const item = byClientId(clientId);
    if (item && !item.dataset.id) setDelivery(item, status, detail);
  });
  on(document, "live:message.new", (event) => accept(event.detail.message));
  on(document, "live:message.ack", (event) => {
    if (event.detail.conversation === conversationId) accept(event.detail.message);
  });
  on(document, "live:message.batch", (event) => {
    const batch = sync.batch(event.detail);
    if (!batch) return;
    cancel(resyncTimer);
    for (const message of batch.messages) accept(message);
    for (const message of batch.changes) applyChange(message);
    // Capped, or a push held back meanwhile was stored after this answer was read: ask again.
    if (batch.again || sync.behind()) resync();
  });
  for (const type of ["message.updated", "message.deleted"]) {
    on(document, `live:${type}`, (event) => {
      const change = sync.change(event.detail.message);
      if (change.apply) applyChange(event.detail.message);
      if (change.resync) resync();
    });
  }
  on(document, "live:typing", (event) => {
    if (event.detail.conversation !== conversationId || !typingLine || !event.detail.user) return;
    typingLine.textContent = typingText(event.detail.user, isGroup);
    cancel(typingTimer);
    typingTimer = later(() => {
      typingLine.textContent = "";
    }, TYPING_SHOW_MS);
  });
  on(document, "live:read", (event) => {
    if (event.detail.conversation !== conversationId) return;
    if (event.detail.user === me) reads.moved(event.detail.seq);
    else {
      otherRead = Math.max(otherRead, event.detail.seq);
      updateSeen();
    }
  });
  // The session ended (live.js goes to the login page): nothing more can be sent from here.
  on(document, "live:signed-out", () => {
    input.disabled = true;
    for (const button of composer.querySelectorAll("button")) button.disabled = true;
    showError("You have been signed out. Sign in again to send messages.");
  });
  on(document, "visibilitychange", () => {
    markRead();
    if (document.visibilityState === "visible") refreshDays(); // "Today" may have become "Yesterday"
  });

  // --- Older messages when scrolled to the top (the link also works without JavaScript) ------

  const older = root.querySelector("#chat-older");
  let observer = null;
  if (older && "IntersectionObserver" in window) {
    let loading = false;
    observer = new IntersectionObserver(
      async (entries) => {
        if (!entries.some((entry) => entry.isIntersecting) || loading) return;
        loading = true;
        try {
          const response = await fetch(`${messagesUrl}?before=${encodeURIComponent(older.dataset.before)}`, {
            headers: { Accept: "text/html" },
            credentials: "same-origin",
            signal: abort.signal,
          });
          if (!response.ok) return;
          const doc = new DOMParser().parseFromString(`<ol>${await response.text()}</ol>`, "text/html");
          const items = [...doc.body.firstElementChild.children];
          const marker = items.find((node) => node.classList.contains("chat-more"));
          const before = scroller.scrollHeight;
          const fresh = items.filter(
            (node) => node.classList.contains("chat-message") && !sync.known.has(Number(node.dataset.id)),
          );
          sync.addKnown(fresh.map((node) => Number(node.dataset.id)));
          list.prepend(...fresh.map((node) => document.importNode(node, true)));
          formatTimes(list);
          refreshDays();
          scroller.scrollTop += scroller.scrollHeight - before;
          if (marker) older.dataset.before = marker.dataset.before;
          else {
            observer.disconnect();
            older.parentElement.remove();
          }
        } catch (error) {
          if (error.name !== "AbortError") throw error;
        } finally {
          loading = false;
        }
      },
      { root: scroller },
    );
    observer.observe(older);
    on(older, "click", (event) => event.preventDefault());
  }

  // A shrinking pane (the on-screen keyboard opening, a window resized) keeps the newest
  // message in view if it was in view.
  let pinned = true;
  on(scroller, "scroll", () => {
    pinned = nearBottom();
  });
  const resized = "ResizeObserver" in window ? new ResizeObserver(() => pinned && toBottom()) : null;
  resized?.observe(scroller);

  // --- Start -------------------------------------------------------------------------------

  for (const entry of delivery.outbox.inConversation(conversationId)) {
    if (!byClientId(entry.clientId)) list.append(pendingItem(entry)); // sent before switching away
  }
  if (list.querySelector(".chat-message")) list.querySelector("#chat-empty")?.remove();
  formatTimes(root);
  refreshDays();
  const firstUnread = list.querySelector("#first-unread");
  if (firstUnread && window.location.hash !== "#composer") firstUnread.scrollIntoView({ block: "center" });
  else if (!window.location.hash || window.location.hash === "#composer") toBottom();
  updateSeen();
  if (live.state() === "online") {
    resync();
    markRead();
  }

  return {
    conversation: conversationId,
    root,
    /** After a (re)connect's hello, before the outbox is flushed: catch up from the database. */
    reconnected() {
      sync.resyncAbandoned();
      resync();
    },
    markRead,
    destroy() {
      picker?.destroy();
      abort.abort();
      observer?.disconnect();
      resized?.disconnect();
      for (const id of timers) clearTimeout(id);
      timers.clear();
      currentUpload?.abort();
    },
  };
}
