// The tab's sends (static/js/chat/delivery.js) against a fake socket: exactly one frame per
// send, resent after a reconnect with the same client id, the rate-limit retry, ack timeouts.
import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";

globalThis.document = new EventTarget(); // delivery.js listens for live.js's events on document

const { createDelivery } = await import("../../static/js/chat/delivery.js");
const { ACK_TIMEOUT_MS, FRAME, RATE_LIMIT_RETRY_MS } = await import("../../static/js/chat/protocol.js");

function fakeLive() {
  return {
    open: true,
    frames: [],
    send(frame) {
      if (!this.open) return false;
      this.frames.push(frame);
      return true;
    },
  };
}

function fakeTimers() {
  let now = 0;
  const pending = new Map();
  let next = 1;
  return {
    setTimeout(fn, ms) {
      pending.set(next, { at: now + ms, fn });
      return next++;
    },
    clearTimeout(id) {
      pending.delete(id);
    },
    advance(ms) {
      now += ms;
      for (const [id, timer] of [...pending]) {
        if (timer.at <= now) {
          pending.delete(id);
          timer.fn();
        }
      }
    },
  };
}

const emit = (type, detail) => globalThis.document.dispatchEvent(new CustomEvent(`live:${type}`, { detail }));

describe("delivery", () => {
  let live, timers, delivery, states;
  beforeEach(() => {
    globalThis.document = new EventTarget();
    live = fakeLive();
    timers = fakeTimers();
    delivery = createDelivery(live, { timers });
    states = [];
    globalThis.document.addEventListener("chat:delivery", (event) => states.push(event.detail.status));
  });

  test("a send goes out once and is forgotten at its ack", () => {
    const entry = delivery.send({ conversation: 7, body: "hi" });
    assert.deepEqual(live.frames, [{ type: FRAME.SEND, conversation: 7, body: "hi", client_id: entry.clientId }]);
    emit("message.ack", { client_id: entry.clientId, conversation: 7 });
    delivery.flush();
    assert.equal(live.frames.length, 1);
    assert.deepEqual(states, ["sending"]);
  });

  test("a send made while offline waits, and goes after the reconnect with the same client id", () => {
    live.open = false;
    const entry = delivery.send({ conversation: 7, body: "hi" });
    assert.deepEqual(states, ["waiting"]);
    live.open = true;
    delivery.flush();
    delivery.flush(); // a second hello before the ack sends it again: the server stores it once
    assert.deepEqual(live.frames.map((f) => f.client_id), [entry.clientId, entry.clientId]);
  });

  test("a rate-limited send is retried after a pause", () => {
    const entry = delivery.send({ conversation: 7, body: "hi" });
    emit("error", { code: "rate_limited", client_id: entry.clientId, detail: "Too fast" });
    assert.equal(live.frames.length, 1);
    timers.advance(RATE_LIMIT_RETRY_MS);
    assert.equal(live.frames.length, 2);
    assert.deepEqual(states, ["sending", "rate_limited", "sending"]);
  });

  test("a refused send is not resent until the user retries it", () => {
    const entry = delivery.send({ conversation: 7, body: "x" });
    emit("error", { code: "body_too_long", client_id: entry.clientId, detail: "Too long." });
    delivery.flush();
    assert.equal(live.frames.length, 1);
    assert.equal(states.at(-1), "failed");
    delivery.retry(entry.clientId);
    assert.equal(live.frames.length, 2);
    assert.equal(states.at(-1), "sending");
  });

  test("a refusal naming its field fails the send with the refusal's words", () => {
    const details = [];
    globalThis.document.addEventListener("chat:delivery", (event) => details.push(event.detail.detail));
    const entry = delivery.send({ conversation: 7, body: "x", reply: { id: 99 } });
    const refusal = { code: "invalid_reply_to", field: "reply_to", detail: "Reply to a message of this chat." };
    emit("error", { ...refusal, client_id: entry.clientId, conversation: 7 });
    assert.equal(states.at(-1), "failed");
    assert.equal(details.at(-1), "Reply to a message of this chat.");
  });

  test("a send with no ack in time shows as stalled; a late ack still settles it", () => {
    const entry = delivery.send({ conversation: 7, body: "x" });
    timers.advance(ACK_TIMEOUT_MS);
    assert.equal(states.at(-1), "stalled");
    emit("message.ack", { client_id: entry.clientId, conversation: 7 });
    assert.equal(delivery.outbox.has(entry.clientId), false);
  });

  test("an ack stops the timeout", () => {
    const entry = delivery.send({ conversation: 7, body: "x" });
    emit("message.ack", { client_id: entry.clientId, conversation: 7 });
    timers.advance(ACK_TIMEOUT_MS * 2);
    assert.deepEqual(states, ["sending"]);
  });

  test("errors about frames that are not ours are ignored", () => {
    delivery.send({ conversation: 7, body: "x" });
    emit("error", { code: "bad_frame", detail: "?" });
    emit("error", { code: "rate_limited", client_id: "someone-else" });
    assert.deepEqual(states, ["sending"]);
  });

  test("a discarded send is never sent again", () => {
    live.open = false;
    const entry = delivery.send({ conversation: 7, body: "x" });
    delivery.discard(entry.clientId);
    live.open = true;
    delivery.flush();
    assert.deepEqual(live.frames, []);
  });
});
