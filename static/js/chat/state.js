// What the chat screens derive from the live events, without the DOM: read markers, "Seen",
// typing throttles, conversation-list rows (preview, unread count) and friends' presence.
// Unit-tested by tests/js/state.test.js.

export const TYPING_SEND_MS = 3000;
export const TYPING_SHOW_MS = 6000;
export const PREVIEW_CHARS = 120;

/** This tab's read marker of one conversation: a "read" frame only when it moves forward. */
export class ReadMarker {
  constructor(sent = 0) {
    this.sent = sent;
  }

  /** Whether to send a "read" up to lastSeq now (the page is visible and it moves the marker). */
  due(lastSeq, visible) {
    return visible && lastSeq > this.sent;
  }

  /** The frame went out, or another tab of ours read up to seq. */
  moved(seq) {
    this.sent = Math.max(this.sent, seq);
  }
}

/** "Seen" under the last message of a direct chat: the other person read my newest message,
 * and it is the newest of the conversation. */
export function seenVisible({ lastMineSeq, lastSeq, otherRead }) {
  return Boolean(lastMineSeq) && otherRead >= lastMineSeq && lastMineSeq === lastSeq;
}

/** At most one "typing" frame every TYPING_SEND_MS while there is text; a send resets it. */
export class TypingThrottle {
  constructor(interval = TYPING_SEND_MS) {
    this.interval = interval;
    this.sentAt = -Infinity;
  }

  due(now, text) {
    return Boolean(text.trim()) && now - this.sentAt > this.interval;
  }

  sent(now) {
    this.sentAt = now;
  }

  reset() {
    this.sentAt = -Infinity;
  }
}

/** The typing line: "typing…" in a direct chat, "<name> is typing…" in a group. */
export function typingText(user, isGroup) {
  return isGroup ? `${user.name} is typing…` : "typing…";
}

/** A list row's preview of a message: { who: "You" | first name | "", text }. */
export function preview(message, me) {
  const files = (message.attachments || []).length;
  const text = message.deleted
    ? "Message deleted"
    : message.body.slice(0, PREVIEW_CHARS) || (files ? `${files} file${files === 1 ? "" : "s"}` : "");
  let who = "";
  if (message.kind === "text" && message.sender) who = message.sender.public_id === me ? "You" : message.sender.name.split(" ")[0];
  return { who, text };
}

/**
 * A conversation-list row after a new message: null when the row has counted it already
 * (its lastSeq is at or past it), else the row's next { lastSeq, unread, who, text }.
 * My own message clears the count (sending reads the conversation).
 */
export function rowAfterMessage(row, message, me) {
  if (row.lastSeq >= message.seq) return null;
  const mine = Boolean(message.sender && message.sender.public_id === me);
  return { lastSeq: message.seq, unread: mine ? 0 : row.unread + 1, ...preview(message, me) };
}

/** A row after a "read" event of mine: the count clears when the read covers its last message. */
export function unreadAfterRead(row, seq) {
  return seq >= row.lastSeq ? 0 : row.unread;
}

/** Conversations whose title contains every word of the query (case and accents ignored). */
export function matchesQuery(title, query) {
  const fold = (text) =>
    text
      .normalize("NFD")
      .replace(/\p{Diacritic}/gu, "")
      .toLocaleLowerCase();
  const words = fold(query).split(/\s+/).filter(Boolean);
  const haystack = fold(title);
  return words.every((word) => haystack.includes(word));
}

/** Which friends are online: a full state ("presence.state") or one change ("presence"). */
export class Presence {
  constructor() {
    this.online = new Set();
  }

  replace(ids) {
    this.online = new Set(ids || []);
  }

  update(user, online) {
    if (online) this.online.add(user);
    else this.online.delete(user);
  }

  has(user) {
    return this.online.has(user);
  }
}
