// The live socket's chat protocol, without the DOM: frame types and builders, the outbox of
// sends awaiting their ack, the per-conversation sync cursors that give exactly-once, in-order
// delivery, and what to do when the socket closes. Unit-tested by tests/js/protocol.test.js.
//
// The rules (the server's half is in chat/frames.py, on live/consumer.py):
// - every send carries a client_id; the server answers "message.ack" with the stored message,
//   and a retried send with the same client_id returns the same message (exactly-once);
// - a send that was not acked goes again after every reconnect (hello), with the same client_id;
// - a message is shown once (by id) and in seq order: a gap in seq asks for a "resync" with the
//   conversation's cursors (seq: newest shown with nothing missing before it; changes: the edit
//   and delete counter caught up with), answered by "message.batch" from the database;
// - "hello" comes first on every connection: only then is anything (re)sent.

/** The server closed the socket because the session is over: go to the login page, do not reconnect. */
export const SIGNED_OUT_CLOSE_CODE = 4401;

export const FRAME = Object.freeze({
  SEND: "message.send",
  RESYNC: "resync",
  READ: "read",
  TYPING: "typing",
  PRESENCE_QUERY: "presence.query",
  UNREAD_QUERY: "chat.unread.query",
  PING: "ping",
});

export const RESYNC_TIMEOUT_MS = 5000; // an answer that never comes must not hold back later messages
export const RATE_LIMIT_RETRY_MS = 2000;
export const ACK_TIMEOUT_MS = 10000; // no ack while online this long: show the message as not sent, with Retry
export const MIN_RECONNECT_MS = 1000;
export const MAX_RECONNECT_MS = 30000;

/** What the client does after the socket closed with `code`: "sign-in" or "reconnect". */
export function afterClose(code) {
  return code === SIGNED_OUT_CLOSE_CODE ? "sign-in" : "reconnect";
}

/** The wait before reconnect attempt number `attempt` (0, 1, …): "full jitter" above a 1 s floor,
 * so tabs that lost the server together do not return together. */
export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(MAX_RECONNECT_MS, MIN_RECONNECT_MS * 2 ** attempt);
  return MIN_RECONNECT_MS + random() * Math.max(0, ceiling - MIN_RECONNECT_MS);
}

export function sendFrame({ conversation, body, clientId, replyTo = null }) {
  const frame = { type: FRAME.SEND, conversation, body, client_id: clientId };
  if (replyTo) frame.reply_to = replyTo;
  return frame;
}

export function readFrame(conversation, seq) {
  return { type: FRAME.READ, conversation, seq };
}

export function typingFrame(conversation) {
  return { type: FRAME.TYPING, conversation };
}

/** A client id for a send: unique per message, kept across retries. */
export function newClientId(crypto = globalThis.crypto) {
  if (crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/**
 * Sends awaiting their ack, for the whole tab (it outlives switching conversations).
 * Entry status: "sending" (on the wire), "waiting" (socket not open), "stalled" (no ack in
 * time) — all three go again after a reconnect — or "failed" (the server refused it: only a
 * Retry by the user sends it again).
 */
export class Outbox {
  constructor() {
    this.entries = new Map();
  }

  add({ conversation, body, clientId, replyTo = null, reply = null, createdAt = new Date().toISOString() }) {
    const entry = {
      clientId,
      conversation,
      body,
      createdAt,
      reply, // the quote shown while it is pending ({ id, seq, sender, excerpt, deleted })
      frame: sendFrame({ conversation, body, clientId, replyTo }),
      status: "waiting",
      error: "",
    };
    this.entries.set(clientId, entry);
    return entry;
  }

  get(clientId) {
    return this.entries.get(clientId);
  }

  has(clientId) {
    return this.entries.has(clientId);
  }

  /** The frame went out (sent=true) or could not (socket closed). */
  sent(clientId, sent) {
    const entry = this.entries.get(clientId);
    if (entry) {
      entry.status = sent ? "sending" : "waiting";
      entry.error = "";
    }
    return entry;
  }

  /** The server stored it: forget it. Returns the entry, or undefined if it was not pending. */
  acked(clientId) {
    const entry = this.entries.get(clientId);
    this.entries.delete(clientId);
    return entry;
  }

  /** No ack in time: it stays to be resent, and the user may retry now. */
  stalled(clientId) {
    const entry = this.entries.get(clientId);
    if (entry && entry.status === "sending") entry.status = "stalled";
    return entry;
  }

  /** The server refused it: kept (for Retry or Discard) but not resent by itself. */
  refused(clientId, detail) {
    const entry = this.entries.get(clientId);
    if (entry) {
      entry.status = "failed";
      entry.error = detail || "";
    }
    return entry;
  }

  discard(clientId) {
    return this.entries.delete(clientId);
  }

  /** What goes again after a reconnect: everything not refused, oldest first, same client ids. */
  toResend() {
    return [...this.entries.values()].filter((entry) => entry.status !== "failed");
  }

  /** Entries of one conversation, oldest first (to show them again when it is reopened). */
  inConversation(conversation) {
    return [...this.entries.values()].filter((entry) => entry.conversation === conversation);
  }
}

/**
 * One open conversation's cursors: which messages are shown, the newest seq with nothing missing
 * before it (`lastSeq`), the change cursor (`changeCursor`) and whether a resync is in flight.
 *
 * A message held back while a resync runs is not necessarily in its answer: the server may have
 * read the database before that message was stored (its push then overtakes the answer). So the
 * newest held seq is kept (`heldSeq`), and `behind()` says to ask again once the answer is in.
 */
export class ConversationSync {
  constructor({ conversation, lastSeq = 0, changeCursor = 0, known = [] }) {
    this.conversation = conversation;
    this.lastSeq = lastSeq;
    this.changeCursor = changeCursor;
    this.known = new Set(known);
    this.resyncing = false;
    this.heldSeq = 0;
  }

  /** Messages already on the page (a page of older ones, loaded by scrolling). */
  addKnown(ids) {
    for (const id of ids) this.known.add(id);
  }

  /**
   * A stored message from any source (push, ack, resync). Returns what to do with it:
   * "other" (another conversation), "known" (shown already: update it if edited or deleted),
   * "gap" (something is missing before it: resync), "held" (the running resync brings it), or
   * "new" (show it now; it is counted as shown).
   */
  receive(message) {
    if (message.conversation !== this.conversation) return "other";
    if (this.known.has(message.id)) return "known";
    if (message.seq > this.lastSeq + 1) {
      if (!this.resyncing) return "gap";
      this.heldSeq = Math.max(this.heldSeq, message.seq);
      return "held";
    }
    this.known.add(message.id);
    this.lastSeq = Math.max(this.lastSeq, message.seq);
    return "new";
  }

  /** An edit, delete or reaction change: apply it if shown; only the next change moves the cursor, a gap resyncs. */
  change(message) {
    if (message.conversation !== this.conversation) return { apply: false, resync: false };
    if (message.change_seq === this.changeCursor + 1) {
      this.changeCursor = message.change_seq;
      return { apply: true, resync: false };
    }
    return { apply: true, resync: message.change_seq > this.changeCursor + 1 };
  }

  /** The resync request for this conversation's cursors. */
  resyncFrame() {
    return {
      type: FRAME.RESYNC,
      conversations: { [this.conversation]: { seq: this.lastSeq, changes: this.changeCursor } },
    };
  }

  /** A resync frame went out (or not): while one is in flight, gaps wait for its answer. */
  resyncSent(sent) {
    this.resyncing = Boolean(sent);
  }

  /** The answer never came (timeout) or the socket reconnected: stop waiting for it. */
  resyncAbandoned() {
    this.resyncing = false;
  }

  /**
   * A message held back during the last resync is still not shown (that answer was read before it
   * was stored): resync again. Ask after feeding a batch's messages, and when a resync timed out.
   */
  behind() {
    return !this.resyncing && this.heldSeq > this.lastSeq;
  }

  /**
   * A "message.batch" for this conversation (the answer to a resync). Returns null for another
   * conversation, else { messages, changes, again }: feed `messages` to receive() in order,
   * apply `changes`, and resync again when `again` (the answer was capped).
   */
  batch(event) {
    if (event.conversation !== this.conversation) return null;
    this.resyncing = false;
    if (Number.isFinite(event.change_seq)) this.changeCursor = Math.max(this.changeCursor, event.change_seq);
    return {
      messages: event.messages || [],
      changes: event.changes || [],
      again: Boolean(event.more || event.changes_more),
    };
  }
}
