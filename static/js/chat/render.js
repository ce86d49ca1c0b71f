// The chat's DOM: message items (the same markup as templates/chat/_message.html), bodies,
// files, delivery state, day separators and times. Built with DOM APIs and textContent; the
// one piece of HTML, a message's body_html (rendered and escaped by the server's
// chat.formatting), is parsed inertly and copied through an allowlist of elements and attributes.

import { dayKey, dayLabel, formatFull, formatTime, safeLocalUrl, sizeLabel, toDate } from "./format.js";
import { quoteText, reactionChips } from "./reactions.js";

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function icon(name) {
  const node = element("i", `bi bi-${name}`);
  node.setAttribute("aria-hidden", "true");
  return node;
}

// What chat.formatting produces, and nothing else.
const ALLOWED = {
  A: ["href", "rel", "target"],
  BR: [],
  CODE: [],
  EM: [],
  PRE: [],
  SPAN: ["class"],
  STRONG: [],
};

function copyAllowed(source, target) {
  for (const child of source.childNodes) {
    if (child.nodeType === Node.TEXT_NODE) {
      target.append(document.createTextNode(child.data));
      continue;
    }
    if (child.nodeType !== Node.ELEMENT_NODE) continue;
    const allowed = ALLOWED[child.tagName];
    if (!allowed) {
      copyAllowed(child, target); // keep the text, drop the element
      continue;
    }
    const copy = document.createElement(child.tagName.toLowerCase());
    for (const name of allowed) {
      const value = child.getAttribute(name);
      if (value === null) continue;
      if (name === "href" && !/^https?:\/\//i.test(value)) continue;
      if (name === "class" && value !== "mention") continue;
      copy.setAttribute(name, value);
    }
    if (copy.tagName === "A") {
      copy.rel = "noopener nofollow";
      copy.target = "_blank";
    }
    copyAllowed(child, copy);
    target.append(copy);
  }
}

/** Server-rendered body HTML → a fragment holding only the allowed elements and attributes. */
export function safeFragment(html) {
  const parsed = new DOMParser().parseFromString(`<body>${html}</body>`, "text/html"); // inert: runs and loads nothing
  const fragment = document.createDocumentFragment();
  copyAllowed(parsed.body, fragment);
  return fragment;
}

/** Plain text with its line breaks, for a message not stored yet (no body_html). */
export function appendPlainText(parent, text) {
  text.split("\n").forEach((line, index) => {
    if (index) parent.append(document.createElement("br"));
    parent.append(document.createTextNode(line));
  });
}

/** A message's files: image thumbnails (inline, from our own WEBP) and download links. */
export function renderFiles(files) {
  const wrap = element("div", "chat-files");
  for (const file of files || []) {
    const href = safeLocalUrl(file.url);
    if (!href) continue;
    const link = element("a");
    link.href = href;
    link.dataset.attachment = String(file.id);
    link.setAttribute("download", "");
    const thumb = safeLocalUrl(file.thumbnail_url);
    if (file.kind === "image" && thumb) {
      link.className = "chat-thumb";
      link.title = `Download ${file.name}`;
      const img = element("img");
      img.src = thumb;
      img.alt = file.name;
      img.loading = "lazy";
      if (file.width) img.width = file.width;
      if (file.height) img.height = file.height;
      link.append(img);
    } else {
      link.className = "chat-file";
      link.append(icon("file-earmark-arrow-down"), element("span", "chat-file-name", file.name));
      link.append(element("span", "chat-file-size", sizeLabel(file.size)));
    }
    wrap.append(link);
  }
  return wrap;
}

function formatTimeElement(time) {
  const date = toDate(time.dateTime);
  if (!date) return;
  time.textContent = formatTime(date);
  time.title = formatFull(date);
}

/** Give every <time data-chat-time> under root the one time format, and its full date as a tooltip. */
export function formatTimes(root) {
  for (const time of root.querySelectorAll("time[data-chat-time]")) formatTimeElement(time);
}

function timeElement(iso) {
  const time = element("time", "chat-time");
  time.dateTime = iso;
  time.dataset.chatTime = "";
  formatTimeElement(time);
  return time;
}

/** A message's body: the server's HTML when stored, its plain text while pending, a tombstone once deleted. */
export function fillBody(item, message) {
  const body = item.querySelector(".chat-body");
  if (!body) return;
  body.replaceChildren();
  if (message.deleted) {
    item.classList.add("deleted");
    const tomb = element("em", "chat-tombstone");
    tomb.append(icon("slash-circle"), " Message deleted");
    body.append(tomb);
    body.classList.remove("d-none");
    item.querySelector(".chat-actions")?.remove();
    item.querySelector(".chat-files")?.remove();
    item.querySelector(".chat-reactions")?.setAttribute("hidden", "");
  } else {
    if (typeof message.body_html === "string") body.append(safeFragment(message.body_html));
    else appendPlainText(body, message.body || "");
    body.classList.toggle("d-none", !message.body);
  }
  const edited = item.querySelector(".chat-edited");
  if (edited) edited.textContent = message.edited_at && !message.deleted ? " · edited" : "";
}

const DELIVERY_TEXT = {
  waiting: "Waiting for connection…",
  sending: "Sending…",
  stalled: "Not sent yet",
  rate_limited: "Too fast, retrying…",
};

/**
 * A message's delivery state. "sent" shows a tick (with the word for screen readers), the same
 * for a message that arrived live and one rendered on load. "stalled" and "failed" add Retry
 * and Discard.
 */
export function setDelivery(item, status, detail = "") {
  const state = item.querySelector(".chat-state");
  if (!state) return;
  item.classList.toggle("pending", ["waiting", "sending", "rate_limited"].includes(status));
  item.classList.toggle("failed", status === "failed" || status === "stalled");
  state.dataset.state = status;
  state.replaceChildren();
  if (status === "sent") {
    state.append(icon("check2"), element("span", "visually-hidden", "Sent"));
  } else if (status === "failed") {
    state.textContent = detail ? `Not sent: ${detail}` : "Not sent";
  } else {
    state.textContent = DELIVERY_TEXT[status] || "";
  }
  const bubble = item.querySelector(".chat-bubble");
  let retry = item.querySelector(".chat-retry");
  if (status === "failed" || status === "stalled") {
    if (!retry) {
      retry = element("div", "chat-retry");
      const again = element("button", "btn btn-sm chat-retry-button", "Retry");
      again.type = "button";
      again.dataset.action = "retry";
      again.prepend(icon("arrow-clockwise"), " ");
      const drop = element("button", "btn btn-sm chat-retry-button", "Discard");
      drop.type = "button";
      drop.dataset.action = "discard";
      retry.append(again, drop);
      bubble.append(retry);
    }
  } else {
    retry?.remove();
  }
}

function actionLink(href, action, label, iconName) {
  const link = element("a", "btn btn-sm btn-link chat-action");
  link.href = href;
  link.dataset.action = action;
  link.title = label;
  link.setAttribute("aria-label", label);
  link.append(icon(iconName));
  return link;
}

function actionsFor(item, message, ctx) {
  if (item.querySelector(".chat-actions") || message.deleted || message.kind === "system") return;
  const wrap = element("div", "chat-actions");
  wrap.append(
    actionLink(`${ctx.base}messages/${message.id}/react/`, "react", "React", "emoji-smile"),
    actionLink(`${ctx.base}?reply=${message.id}#composer`, "reply", "Reply", "reply"),
  );
  if (message.sender && message.sender.public_id === ctx.me) {
    const dropdown = element("div", "dropdown");
    const toggle = element("button", "btn btn-sm btn-link chat-action chat-actions-toggle");
    toggle.type = "button";
    toggle.setAttribute("data-bs-toggle", "dropdown");
    toggle.setAttribute("aria-expanded", "false");
    toggle.setAttribute("aria-label", "Message actions");
    toggle.append(icon("three-dots-vertical"));
    const menu = element("ul", "dropdown-menu dropdown-menu-end");
    const editItem = element("li");
    const edit = element("a", "dropdown-item");
    edit.href = `${ctx.base}messages/${message.id}/edit/`;
    edit.append(icon("pencil"), " Edit");
    editItem.append(edit);
    const deleteItem = element("li");
    const form = element("form");
    form.method = "post";
    form.action = `${ctx.base}messages/${message.id}/delete/`;
    form.append(csrfInput(ctx));
    const remove = element("button", "dropdown-item text-danger");
    remove.type = "submit";
    remove.append(icon("trash"), " Delete");
    form.append(remove);
    deleteItem.append(form);
    menu.append(editItem, deleteItem);
    dropdown.append(toggle, menu);
    wrap.append(dropdown);
  }
  item.append(wrap);
}

function csrfInput(ctx) {
  const token = element("input");
  token.type = "hidden";
  token.name = "csrfmiddlewaretoken";
  token.value = ctx.csrf;
  return token;
}

function hiddenInput(name, value) {
  const input = element("input");
  input.type = "hidden";
  input.name = name;
  input.value = value;
  return input;
}

/** A reply's quote (the same markup as _message.html): author and first line; a link to the original. */
export function renderQuote(reply, me) {
  const quote = element("a", "chat-quote");
  quote.href = `#m-${Number(reply.seq)}`;
  quote.dataset.replyTo = String(reply.id);
  const author = reply.sender_public_id === me || reply.sender === "You" ? "You" : reply.sender || "Lyceum";
  quote.append(element("span", "chat-quote-author", author));
  const text = element("span", `chat-quote-text${reply.deleted ? " chat-quote-deleted" : ""}`, quoteText(reply));
  quote.append(text);
  return quote;
}

/**
 * A message's reaction chips from its payload's `reactions` (the same markup as _message.html:
 * each chip is a POST form that toggles my reaction, so it also works as a plain form).
 */
export function fillReactions(item, message, ctx) {
  let row = item.querySelector(".chat-reactions");
  const stack = item.querySelector(".chat-stack");
  if (!stack) return;
  if (!row) {
    row = element("div", "chat-reactions");
    stack.append(row);
  }
  const chips = message.deleted ? [] : reactionChips(message.reactions, ctx.me);
  row.replaceChildren();
  row.hidden = !chips.length;
  for (const chip of chips) {
    const form = element("form", "chat-reaction-form");
    form.method = "post";
    form.action = `${ctx.base}messages/${message.id}/react/`;
    form.append(csrfInput(ctx), hiddenInput("emoji", chip.emoji), hiddenInput("action", chip.mine ? "remove" : "add"));
    const button = element("button", `chat-reaction${chip.mine ? " mine" : ""}`);
    button.type = "submit";
    button.dataset.emoji = chip.emoji;
    button.setAttribute("aria-pressed", String(chip.mine));
    button.setAttribute("aria-label", chip.label);
    const glyph = element("span", "chat-reaction-emoji", chip.emoji);
    const count = element("span", "chat-reaction-count", String(chip.count));
    const who = element("span", "chat-reaction-who", `${chip.who} reacted with ${chip.name || chip.emoji}`);
    for (const part of [glyph, count, who]) part.setAttribute("aria-hidden", "true");
    button.append(glyph, " ", count, " ", who); // spaced, so the words read as the label says them
    form.append(button);
    row.append(form);
  }
}

/** Replies on the page that quote `message` follow its edit or delete. */
export function refreshQuotes(list, message) {
  for (const quote of list.querySelectorAll(`.chat-quote[data-reply-to="${Number(message.id)}"]`)) {
    const text = quote.querySelector(".chat-quote-text");
    if (!text) continue;
    const reply = { deleted: message.deleted, excerpt: firstLine(message) };
    text.textContent = quoteText(reply);
    text.classList.toggle("chat-quote-deleted", Boolean(message.deleted));
  }
}

function firstLine(message) {
  const line = (message.body || "").split("\n").map((part) => part.trim()).find(Boolean) || "";
  return line.length <= 120 ? line : `${line.slice(0, 119).trimEnd()}…`;
}

/** A message that is stored now: its id, seq, anchor, its actions (react, reply; mine: edit, delete) and reactions. */
export function setIdentity(item, message, ctx) {
  item.dataset.id = String(message.id);
  item.dataset.seq = String(message.seq);
  item.id = `m-${message.seq}`;
  actionsFor(item, message, ctx);
  if (message.kind !== "system") fillReactions(item, message, ctx);
}

/** A message item; ctx = { me, isGroup, base, csrf }. */
export function messageElement(message, ctx, { status = null } = {}) {
  const item = element("li");
  item.dataset.at = message.created_at || new Date().toISOString();
  if (message.kind === "system") {
    item.className = "chat-message system";
    item.append(element("span", "chat-system", message.body));
  } else {
    const mine = Boolean(message.sender && message.sender.public_id === ctx.me);
    item.className = `chat-message${mine ? " mine" : ""}`;
    if (message.sender) item.dataset.sender = String(message.sender.public_id);
    if (message.sender?.name) item.dataset.senderName = message.sender.name;
    if (mine && message.client_id) item.dataset.clientId = message.client_id;
    const stack = element("div", "chat-stack");
    const bubble = element("div", "chat-bubble");
    if (ctx.isGroup && !mine) bubble.append(element("div", "chat-sender", message.sender ? message.sender.name : "Former member"));
    if (message.reply_to) bubble.append(renderQuote(message.reply_to, ctx.me));
    if (message.attachments && message.attachments.length && !message.deleted) bubble.append(renderFiles(message.attachments));
    bubble.append(element("div", "chat-body"));
    const meta = element("div", "chat-meta");
    meta.append(timeElement(item.dataset.at), element("span", "chat-edited"));
    if (mine) meta.append(element("span", "chat-state"));
    bubble.append(meta);
    stack.append(bubble);
    item.append(stack);
    fillBody(item, message);
    if (mine) setDelivery(item, status || "sent");
  }
  if (message.id) setIdentity(item, message, ctx);
  return item;
}

function daySeparator(key) {
  const item = element("li", "chat-divider chat-day");
  item.dataset.divider = "day";
  item.dataset.day = key;
  item.append(element("span"));
  return item;
}

/**
 * Day separators ("Today", "Yesterday", dates) before the first message of each day, in the
 * browser's zone: run after every change of the list. Existing separators are kept where they
 * are right, so nothing flickers or is announced again.
 */
export function syncDays(list, now = new Date()) {
  const pool = new Map();
  for (const node of list.querySelectorAll(":scope > [data-divider=day]")) pool.set(node.dataset.day, node);
  const keep = new Set();
  let previous = null;
  for (const item of list.querySelectorAll(":scope > .chat-message[data-at]")) {
    const date = toDate(item.dataset.at);
    if (!date) continue;
    const key = dayKey(date);
    if (key === previous) continue;
    previous = key;
    let anchor = item;
    while (anchor.previousElementSibling?.dataset.divider === "unread") anchor = anchor.previousElementSibling;
    let separator = anchor.previousElementSibling;
    if (!(separator?.dataset.divider === "day" && separator.dataset.day === key && !keep.has(separator))) {
      separator = pool.get(key);
      if (!separator || keep.has(separator)) separator = daySeparator(key);
      list.insertBefore(separator, anchor);
    }
    const label = dayLabel(date, now);
    if (separator.firstElementChild.textContent !== label) separator.firstElementChild.textContent = label;
    keep.add(separator);
  }
  for (const node of list.querySelectorAll(":scope > [data-divider=day]")) if (!keep.has(node)) node.remove();
}
