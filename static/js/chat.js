// Lyceum chat pages (ES module, CSP-safe: no inline code, no innerHTML of message data).
//
// Conversation page (#chat): sends over the live socket (live.js send()) with a client_id, shows
// pending → sent on "message.ack", appends "message.new" live (deduplicated by id, kept in seq
// order), fills gaps and catches up after every (re)connect with a "resync" frame, shows typing
// and "Seen", and loads older messages when scrolled to the top. Without JavaScript the same
// page works as a plain POST form.
// Conversation list (#chat-list): previews and unread badges update live.
// Files: the composer's paperclip uploads them (fetch, multipart) to the same send URL; images
// show as thumbnails, other files as download links (served only to members, by the server).
// Edits and deletes missed while away come back with the resync ("changes" since the page's
// change cursor). Every page that loads this module: the navbar's #chat-nav-badge (unread
// conversations) and presence dots ([data-presence-user]) of friends stay live.
//
// live.js is imported from the URL base.html loaded it from (the script tag's
// data-live-module), so this page shares its one socket instead of opening a second one.

const moduleTag = document.getElementById("chat-module");
const live = await import(moduleTag?.dataset.liveModule || "/static/js/live.js");

const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;
const MENTION_RE = /(^|[^\w@/])@([A-Za-z][\w.-]{0,60}\w)/g;
const TRAILING = ".,:;!?)]}";
const TYPING_SEND_MS = 3000;
const TYPING_SHOW_MS = 6000;

// --- Rendering (DOM APIs and textContent only) ---------------------------------------------

function appendMentions(parent, text) {
  let last = 0;
  for (const match of text.matchAll(MENTION_RE)) {
    const start = match.index + match[1].length;
    parent.append(document.createTextNode(text.slice(last, start)));
    const span = document.createElement("span");
    span.className = "mention";
    span.textContent = `@${match[2]}`;
    parent.append(span);
    last = start + match[2].length + 1;
  }
  parent.append(document.createTextNode(text.slice(last)));
}

function appendText(parent, text) {
  const lines = text.split("\n");
  lines.forEach((line, index) => {
    if (index) parent.append(document.createElement("br"));
    appendMentions(parent, line);
  });
}

/** Message text → nodes: links for http(s) URLs (rel="noopener nofollow"), highlighted @mentions. */
export function renderBody(parent, body) {
  let last = 0;
  for (const match of body.matchAll(URL_RE)) {
    let url = match[0];
    while (url && TRAILING.includes(url[url.length - 1])) url = url.slice(0, -1);
    appendText(parent, body.slice(last, match.index));
    const link = document.createElement("a");
    link.href = url;
    link.rel = "noopener nofollow";
    link.target = "_blank";
    link.textContent = url;
    parent.append(link);
    last = match.index + url.length;
  }
  appendText(parent, body.slice(last));
}

function sizeLabel(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function safeLocalUrl(url) {
  return typeof url === "string" && url.startsWith("/") && !url.startsWith("//") ? url : null;
}

/** A message's files: image thumbnails (inline, from our own WEBP) and download links. */
export function renderFiles(files) {
  const wrap = document.createElement("div");
  wrap.className = "chat-files";
  for (const file of files || []) {
    const href = safeLocalUrl(file.url);
    if (!href) continue;
    const link = document.createElement("a");
    link.href = href;
    link.dataset.attachment = String(file.id);
    link.setAttribute("download", "");
    const thumb = safeLocalUrl(file.thumbnail_url);
    if (file.kind === "image" && thumb) {
      link.className = "chat-thumb";
      link.title = `Download ${file.name}`;
      const img = document.createElement("img");
      img.src = thumb;
      img.alt = file.name;
      img.loading = "lazy";
      if (file.width) img.width = file.width;
      if (file.height) img.height = file.height;
      link.append(img);
    } else {
      link.className = "chat-file";
      const icon = document.createElement("i");
      icon.className = "bi bi-file-earmark-arrow-down";
      icon.setAttribute("aria-hidden", "true");
      const name = document.createElement("span");
      name.className = "chat-file-name";
      name.textContent = file.name;
      const size = document.createElement("span");
      size.className = "chat-file-size";
      size.textContent = sizeLabel(file.size);
      link.append(icon, name, size);
    }
    wrap.append(link);
  }
  return wrap;
}

function timeLabel(iso) {
  const date = iso ? new Date(iso) : new Date();
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// --- Conversation page ----------------------------------------------------------------------

function conversationPage(root) {
  const conversationId = Number(root.dataset.conversation);
  const me = Number(root.dataset.user);
  const isGroup = root.dataset.kind === "group";
  const list = document.getElementById("chat-messages");
  const scroller = document.getElementById("chat-scroll");
  const composer = document.getElementById("composer");
  const input = composer.querySelector("textarea[name=body]");
  const liveError = document.getElementById("composer-live-error");
  const typingLine = document.getElementById("chat-typing");
  const seen = document.getElementById("chat-seen");
  const csrf = composer.querySelector("input[name=csrfmiddlewaretoken]")?.value || "";
  const messagesUrl = root.dataset.messagesUrl;
  const base = messagesUrl.replace(/messages\/$/, "");

  const known = new Set(); // message ids on the page
  const outbox = new Map(); // client_id → frame, until acked
  let lastSeq = 0; // the newest seq shown with nothing missing before it
  let otherRead = Number(root.dataset.otherRead) || 0;
  let readSent = 0;
  let typingSentAt = 0;
  let typingTimer = null;
  let resyncing = false;
  // Edits and deletes: the conversation's change counter this page has caught up with.
  let changeCursor = Number(root.dataset.changeSeq) || 0;
  const filesInput = document.getElementById("composer-files");
  const picked = document.getElementById("composer-files-list");

  for (const item of list.querySelectorAll(".chat-message[data-id]")) {
    known.add(Number(item.dataset.id));
    lastSeq = Math.max(lastSeq, Number(item.dataset.seq));
  }

  const nearBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
  const toBottom = () => {
    scroller.scrollTop = scroller.scrollHeight;
  };

  function messageElement(message, { pending = false } = {}) {
    const item = document.createElement("li");
    if (message.kind === "system") {
      item.className = "chat-message system";
      const span = document.createElement("span");
      span.className = "chat-system";
      span.textContent = message.body;
      item.append(span);
    } else {
      const mine = message.sender && message.sender.id === me;
      item.className = `chat-message${mine ? " mine" : ""}${pending ? " pending" : ""}`;
      if (message.sender) item.dataset.sender = String(message.sender.id);
      if (mine && message.client_id) item.dataset.clientId = message.client_id;
      const bubble = document.createElement("div");
      bubble.className = "chat-bubble";
      if (isGroup && !mine) {
        const who = document.createElement("div");
        who.className = "chat-sender";
        who.textContent = message.sender ? message.sender.name : "Former member";
        bubble.append(who);
      }
      if (message.attachments && message.attachments.length && !message.deleted) {
        bubble.append(renderFiles(message.attachments));
      }
      const body = document.createElement("div");
      body.className = "chat-body";
      bubble.append(body);
      const meta = document.createElement("div");
      meta.className = "chat-meta";
      const time = document.createElement("time");
      time.dateTime = message.created_at || new Date().toISOString();
      time.textContent = timeLabel(message.created_at);
      const edited = document.createElement("span");
      edited.className = "chat-edited";
      const state = document.createElement("span");
      state.className = "chat-state";
      meta.append(time, edited, state);
      bubble.append(meta);
      item.append(bubble);
      fillBody(item, message);
    }
    if (message.id) setIdentity(item, message);
    return item;
  }

  function fillBody(item, message) {
    const body = item.querySelector(".chat-body");
    if (!body) return;
    body.replaceChildren();
    if (message.deleted) {
      item.classList.add("deleted");
      const tomb = document.createElement("em");
      tomb.className = "chat-tombstone";
      tomb.textContent = "Message deleted";
      body.append(tomb);
      body.classList.remove("d-none");
      item.querySelector(".chat-actions")?.remove();
      item.querySelector(".chat-files")?.remove();
    } else {
      renderBody(body, message.body);
      body.classList.toggle("d-none", !message.body);
    }
    const edited = item.querySelector(".chat-edited");
    if (edited) edited.textContent = message.edited_at && !message.deleted ? " · edited" : "";
  }

  function actionsFor(item, message) {
    if (item.querySelector(".chat-actions") || message.deleted || !message.sender || message.sender.id !== me) return;
    const wrap = document.createElement("div");
    wrap.className = "dropdown chat-actions";
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "btn btn-sm btn-link text-body-secondary";
    toggle.setAttribute("data-bs-toggle", "dropdown");
    toggle.setAttribute("aria-expanded", "false");
    toggle.setAttribute("aria-label", "Message actions");
    const icon = document.createElement("i");
    icon.className = "bi bi-three-dots-vertical";
    icon.setAttribute("aria-hidden", "true");
    toggle.append(icon);
    const menu = document.createElement("ul");
    menu.className = "dropdown-menu dropdown-menu-end";
    const editItem = document.createElement("li");
    const edit = document.createElement("a");
    edit.className = "dropdown-item";
    edit.href = `${base}messages/${message.id}/edit/`;
    edit.textContent = "Edit";
    editItem.append(edit);
    const deleteItem = document.createElement("li");
    const form = document.createElement("form");
    form.method = "post";
    form.action = `${base}messages/${message.id}/delete/`;
    const token = document.createElement("input");
    token.type = "hidden";
    token.name = "csrfmiddlewaretoken";
    token.value = csrf;
    const remove = document.createElement("button");
    remove.type = "submit";
    remove.className = "dropdown-item text-danger";
    remove.textContent = "Delete";
    form.append(token, remove);
    deleteItem.append(form);
    menu.append(editItem, deleteItem);
    wrap.append(toggle, menu);
    item.append(wrap);
  }

  function setIdentity(item, message) {
    item.dataset.id = String(message.id);
    item.dataset.seq = String(message.seq);
    item.id = `m-${message.seq}`;
    actionsFor(item, message);
  }

  /** Put a stored message in its place by seq (pending ones stay last). */
  function place(item) {
    const seq = Number(item.dataset.seq);
    document.getElementById("chat-empty")?.remove();
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

  function markState(item, text) {
    const state = item.querySelector(".chat-state");
    if (state) state.textContent = text;
  }

  function updateSeen() {
    if (!seen) return;
    const mine = [...list.querySelectorAll(".chat-message.mine[data-seq]")];
    const lastMine = mine.length ? Number(mine[mine.length - 1].dataset.seq) : 0;
    const lastAny = lastSeq;
    seen.hidden = !(lastMine && otherRead >= lastMine && lastMine === lastAny);
  }

  /** A stored message from any source (push, ack, resync): show it once, in order. */
  function accept(message) {
    if (message.conversation !== conversationId) return;
    if (known.has(message.id)) {
      const existing = list.querySelector(`.chat-message[data-id="${message.id}"]`);
      if (existing && (message.deleted || message.edited_at)) fillBody(existing, message);
      return;
    }
    if (message.seq > lastSeq + 1 && !resyncing) {
      resync(); // a gap: something was missed; the database fills it in order
      return;
    }
    if (message.seq > lastSeq + 1) return; // the running resync brings it
    known.add(message.id);
    const stick = nearBottom();
    let item = message.client_id ? list.querySelector(`.chat-message[data-client-id="${CSS.escape(message.client_id)}"]`) : null;
    if (item) {
      item.classList.remove("pending", "failed");
      setIdentity(item, message);
      markState(item, "Sent");
      outbox.delete(message.client_id);
    } else {
      item = messageElement(message);
    }
    place(item);
    lastSeq = Math.max(lastSeq, message.seq);
    root.dataset.headSeq = String(lastSeq);
    if (message.sender && typingLine) {
      typingLine.textContent = "";
    }
    updateSeen();
    if (stick || (message.sender && message.sender.id === me)) toBottom();
    markRead();
  }

  /** An edit or delete (live or from a resync): update the message if it is on the page. */
  function applyChange(message) {
    if (message.conversation !== conversationId) return;
    const item = list.querySelector(`.chat-message[data-id="${message.id}"]`);
    if (item) fillBody(item, message);
  }

  function markRead() {
    if (document.visibilityState !== "visible" || lastSeq <= readSent) return;
    if (live.send({ type: "read", conversation: conversationId, seq: lastSeq })) readSent = lastSeq;
  }

  let resyncTimer = null;
  function resync() {
    if (live.state() !== "online") return;
    resyncing = live.send({
      type: "resync",
      conversations: { [conversationId]: { seq: lastSeq, changes: changeCursor } },
    });
    clearTimeout(resyncTimer);
    // An answer that never comes must not hold back later messages for ever.
    resyncTimer = setTimeout(() => {
      resyncing = false;
    }, 5000);
  }

  function flushOutbox() {
    for (const [clientId, frame] of outbox) {
      const item = list.querySelector(`.chat-message[data-client-id="${CSS.escape(clientId)}"]`);
      if (live.send(frame) && item) markState(item, "Sending…");
    }
  }

  function showError(text) {
    liveError.textContent = text;
    liveError.hidden = !text;
  }

  function showPicked() {
    if (!filesInput || !picked) return;
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

  let uploading = false;
  async function upload() {
    // Files go over HTTP (multipart) to the same send URL; the stored message comes back as
    // JSON and also arrives live to every member like any other message.
    const problem = checkFiles();
    if (problem) {
      showError(problem);
      return;
    }
    if (uploading) return;
    uploading = true;
    showError("");
    const data = new FormData(composer);
    data.set("client_id", window.crypto?.randomUUID ? window.crypto.randomUUID() : `${Date.now()}-${Math.random()}`);
    const sendButton = composer.querySelector(".chat-send");
    sendButton.disabled = true;
    picked.classList.add("text-body-secondary");
    try {
      const response = await fetch(composer.action, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrf },
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) {
        showError(answer.detail || "The files could not be sent. Try again.");
        return;
      }
      input.value = "";
      filesInput.value = "";
      showPicked();
      accept(answer.message);
      toBottom();
    } catch {
      showError("The files could not be sent: the connection failed. Try again.");
    } finally {
      uploading = false;
      sendButton.disabled = false;
      picked.classList.remove("text-body-secondary");
    }
  }

  filesInput?.addEventListener("change", () => {
    showError(checkFiles());
    showPicked();
  });

  composer.addEventListener("submit", (event) => {
    const body = input.value.trim();
    if (filesInput && filesInput.files.length) {
      if (!window.fetch || !window.FormData) return; // the plain multipart POST works too
      event.preventDefault();
      upload();
      return;
    }
    if (!body) {
      event.preventDefault();
      showError("Write something before sending.");
      return;
    }
    // Not connected (or an old browser): the form posts as without JavaScript, and the
    // hidden client_id still makes a double submit harmless.
    if (live.state() !== "online" || !window.crypto?.randomUUID) return;
    event.preventDefault();
    showError("");
    const clientId = window.crypto.randomUUID();
    const frame = { type: "message.send", conversation: conversationId, body, client_id: clientId };
    const item = messageElement(
      { kind: "text", body, client_id: clientId, sender: { id: me }, created_at: new Date().toISOString() },
      { pending: true },
    );
    document.getElementById("chat-empty")?.remove();
    list.append(item);
    outbox.set(clientId, frame);
    // If the socket drops before the ack, the frame goes again after the reconnect (same client_id).
    markState(item, live.send(frame) ? "Sending…" : "Waiting for connection…");
    input.value = "";
    typingSentAt = 0; // the message ended the typing; the next keystroke may say so again
    toBottom();
    input.focus();
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });

  input.addEventListener("input", () => {
    const now = Date.now();
    if (input.value.trim() && now - typingSentAt > TYPING_SEND_MS) {
      if (live.send({ type: "typing", conversation: conversationId })) typingSentAt = now;
    }
  });

  document.addEventListener("live:message.new", (e) => accept(e.detail.message));
  document.addEventListener("live:message.ack", (e) => {
    if (e.detail.conversation === conversationId) accept(e.detail.message);
  });
  document.addEventListener("live:message.batch", (e) => {
    if (e.detail.conversation !== conversationId) return;
    resyncing = false;
    for (const message of e.detail.messages) accept(message);
    for (const message of e.detail.changes || []) applyChange(message);
    if (Number.isFinite(e.detail.change_seq)) changeCursor = Math.max(changeCursor, e.detail.change_seq);
    if (e.detail.more || e.detail.changes_more) resync();
  });
  for (const type of ["message.updated", "message.deleted"]) {
    document.addEventListener(`live:${type}`, (e) => {
      const message = e.detail.message;
      if (message.conversation !== conversationId) return;
      applyChange(message);
      // Only a change right after the cursor moves it: a gap is filled by the next resync.
      if (message.change_seq === changeCursor + 1) changeCursor = message.change_seq;
      else if (message.change_seq > changeCursor + 1) resync();
    });
  }
  document.addEventListener("live:typing", (e) => {
    if (e.detail.conversation !== conversationId || !typingLine || !e.detail.user) return;
    typingLine.textContent = isGroup ? `${e.detail.user.name} is typing…` : "typing…";
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => {
      typingLine.textContent = "";
    }, TYPING_SHOW_MS);
  });
  document.addEventListener("live:read", (e) => {
    if (e.detail.conversation !== conversationId) return;
    if (e.detail.user === me) {
      readSent = Math.max(readSent, e.detail.seq);
    } else {
      otherRead = Math.max(otherRead, e.detail.seq);
      updateSeen();
    }
  });
  document.addEventListener("live:error", (e) => {
    const error = e.detail;
    if (!error.client_id || !outbox.has(error.client_id)) return;
    const item = list.querySelector(`.chat-message[data-client-id="${CSS.escape(error.client_id)}"]`);
    if (error.code === "rate_limited") {
      if (item) markState(item, "Too fast, retrying…");
      setTimeout(() => live.send(outbox.get(error.client_id)), 2000);
      return;
    }
    outbox.delete(error.client_id);
    if (item) {
      item.classList.remove("pending");
      item.classList.add("failed");
      markState(item, `Not sent: ${error.detail}`);
    }
  });
  // Every (re)connect: catch up from the database, then resend what was never acked.
  document.addEventListener("live:hello", () => {
    resyncing = false;
    resync();
    flushOutbox();
    markRead();
  });
  document.addEventListener("visibilitychange", markRead);
  // The session ended (live.js goes to the login page): nothing more can be sent from here.
  document.addEventListener("live:signed-out", () => {
    input.disabled = true;
    for (const button of composer.querySelectorAll("button")) button.disabled = true;
    showError("You have been signed out. Sign in again to send messages.");
  });

  // Older messages when scrolled to the top (the link also works without JavaScript).
  const older = document.getElementById("chat-older");
  if (older && "IntersectionObserver" in window) {
    let loading = false;
    const observer = new IntersectionObserver(async (entries) => {
      if (!entries.some((entry) => entry.isIntersecting) || loading) return;
      loading = true;
      try {
        const response = await fetch(`${messagesUrl}?before=${encodeURIComponent(older.dataset.before)}`, {
          headers: { Accept: "text/html" },
          credentials: "same-origin",
        });
        if (!response.ok) return;
        const doc = new DOMParser().parseFromString(`<ol>${await response.text()}</ol>`, "text/html");
        const items = [...doc.body.firstElementChild.children];
        const marker = items.find((node) => node.classList.contains("chat-more"));
        const before = scroller.scrollHeight;
        const fresh = items.filter((node) => !node.classList.contains("chat-more") && !known.has(Number(node.dataset.id)));
        for (const node of fresh) if (node.dataset.id) known.add(Number(node.dataset.id));
        list.prepend(...fresh.map((node) => document.importNode(node, true)));
        scroller.scrollTop += scroller.scrollHeight - before;
        if (marker) older.dataset.before = marker.dataset.before;
        else {
          observer.disconnect();
          older.parentElement.remove();
        }
      } finally {
        loading = false;
      }
    }, { root: scroller });
    observer.observe(older);
    older.addEventListener("click", (event) => event.preventDefault());
  }

  const firstUnread = document.getElementById("first-unread");
  if (firstUnread && window.location.hash !== "#composer") firstUnread.scrollIntoView({ block: "center" });
  else if (!window.location.hash || window.location.hash === "#composer") toBottom();
  updateSeen();
  if (live.state() === "online") {
    resync();
    markRead();
  }
}

// --- Conversation list ------------------------------------------------------------------------

function conversationList(listEl) {
  const me = Number(listEl.dataset.user);

  let refreshTimer = null;
  function refresh() {
    // Several events often arrive together (a system message and a membership change).
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(reload, 250);
  }

  async function reload() {
    const response = await fetch(window.location.href, { credentials: "same-origin" });
    if (!response.ok) return;
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = doc.getElementById("chat-list");
    if (fresh) {
      listEl.replaceChildren(...[...fresh.children].map((node) => document.importNode(node, true)));
      listEl.classList.toggle("d-none", !listEl.children.length);
      if (listEl.children.length) listEl.parentElement.querySelector(".empty-state")?.remove();
    }
  }

  function setBadge(row, count) {
    const badge = row.querySelector(".chat-unread");
    badge.textContent = String(count);
    badge.setAttribute("aria-label", `${count} unread`);
    badge.classList.toggle("d-none", count === 0);
    row.classList.toggle("has-unread", count > 0 && row.dataset.muted !== "1");
  }

  document.addEventListener("live:message.new", (e) => {
    const message = e.detail.message;
    const row = listEl.querySelector(`.chat-row[data-conversation="${message.conversation}"]`);
    if (!row) {
      if (listEl.dataset.tab !== "archived") refresh();
      return;
    }
    if (Number(row.dataset.lastSeq) >= message.seq) return; // already counted
    row.dataset.lastSeq = String(message.seq);
    const mine = message.sender && message.sender.id === me;
    const files = (message.attachments || []).length;
    row.querySelector(".chat-row-text").textContent =
      message.body.slice(0, 120) || (files ? `${files} file${files === 1 ? "" : "s"}` : "");
    const who = row.querySelector(".chat-row-who");
    const label = message.kind === "text" && message.sender ? (mine ? "You" : message.sender.name.split(" ")[0]) : "";
    if (who) who.textContent = label ? `${label}:` : "";
    else if (label) {
      const span = document.createElement("span");
      span.className = "chat-row-who";
      span.textContent = `${label}:`;
      row.querySelector(".chat-row-preview").prepend(span, " ");
    }
    const time = row.querySelector(".chat-row-time");
    if (time) time.textContent = "now";
    const badge = row.querySelector(".chat-unread");
    setBadge(row, mine ? 0 : (Number.parseInt(badge.textContent, 10) || 0) + 1);
    listEl.prepend(row);
  });
  document.addEventListener("live:read", (e) => {
    if (e.detail.user !== me) return;
    const row = listEl.querySelector(`.chat-row[data-conversation="${e.detail.conversation}"]`);
    if (row && e.detail.seq >= Number(row.dataset.lastSeq)) setBadge(row, 0);
  });
  document.addEventListener("live:conversation.updated", refresh);
  // After a reconnect the counts may be stale: read them again.
  let greeted = false;
  document.addEventListener("live:hello", () => {
    if (greeted) refresh();
    greeted = true;
  });
  if (live.state() === "online") greeted = true;
}

const chatRoot = document.getElementById("chat");
if (chatRoot) conversationPage(chatRoot);
const listRoot = document.getElementById("chat-list");
if (listRoot) conversationList(listRoot);

// --- Every page: the navbar's unread-conversations badge and friends' presence dots ---------

function setChatBadge(count) {
  const badge = document.getElementById("chat-nav-badge");
  if (!badge || typeof count !== "number" || count < 0) return;
  badge.textContent = count > 99 ? "99+" : String(count);
  badge.setAttribute("aria-label", `${count} unread conversations`);
  badge.classList.toggle("d-none", count === 0);
}

function chatBadge() {
  let me = Number(document.querySelector("#chat[data-user], #chat-list[data-user]")?.dataset.user) || null;
  let timer = null;
  // Several events often come together (a message in a group, then a read): ask once.
  const ask = () => {
    clearTimeout(timer);
    timer = setTimeout(() => live.send({ type: "chat.unread.query" }), 300);
  };
  document.addEventListener("live:hello", (e) => {
    me = e.detail.user;
    setChatBadge(e.detail.chat_unread);
  });
  document.addEventListener("live:chat.unread", (e) => setChatBadge(e.detail.count));
  document.addEventListener("live:message.new", (e) => {
    const sender = e.detail.message && e.detail.message.sender;
    if (!sender || sender.id !== me) ask();
  });
  document.addEventListener("live:read", (e) => {
    if (e.detail.user === me) ask();
  });
  document.addEventListener("live:conversation.updated", ask);
}

const PRESENCE_REFRESH_MS = 60000;

function presenceDots() {
  const online = new Set();
  const paint = () => {
    for (const dot of document.querySelectorAll("[data-presence-user]")) {
      const on = online.has(Number(dot.dataset.presenceUser));
      dot.hidden = !on;
    }
  };
  // Asking subscribes this socket to "presence" events; asking again now and then also clears
  // a friend whose server died without saying goodbye (their entry expires).
  const query = () => live.send({ type: "presence.query" });
  document.addEventListener("live:hello", query);
  document.addEventListener("live:presence.state", (e) => {
    online.clear();
    for (const id of e.detail.online || []) online.add(id);
    paint();
  });
  document.addEventListener("live:presence", (e) => {
    if (e.detail.online) online.add(e.detail.user);
    else online.delete(e.detail.user);
    paint();
  });
  setInterval(() => {
    if (live.state() === "online" && document.visibilityState === "visible") query();
  }, PRESENCE_REFRESH_MS);
  if (live.state() === "online") {
    query();
    live.send({ type: "chat.unread.query" });
  }
}

chatBadge();
presenceDots();
