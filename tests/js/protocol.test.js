// The live chat protocol (static/js/chat/protocol.js): exactly-once, in-order delivery, the
// outbox's resend rules, resync cursors and what a close code means.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  afterClose,
  backoffDelay,
  ConversationSync,
  FRAME,
  MAX_RECONNECT_MS,
  MIN_RECONNECT_MS,
  newClientId,
  Outbox,
  SIGNED_OUT_CLOSE_CODE,
  sendFrame,
} from "../../static/js/chat/protocol.js";

const message = (seq, extra = {}) => ({ id: 100 + seq, conversation: 7, seq, body: `m${seq}`, ...extra });

describe("close codes", () => {
  test("the signed-out close code sends the user to sign in instead of reconnecting", () => {
    assert.equal(SIGNED_OUT_CLOSE_CODE, 4401);
    assert.equal(afterClose(SIGNED_OUT_CLOSE_CODE), "sign-in");
  });

  test("every other close reconnects", () => {
    for (const code of [1000, 1001, 1006, 1011, 4000, 4400]) assert.equal(afterClose(code), "reconnect");
  });

  test("reconnect waits grow from 1 s and are capped at 30 s, with jitter", () => {
    assert.equal(backoffDelay(0, () => 1), MIN_RECONNECT_MS);
    assert.equal(backoffDelay(3, () => 1), 8000);
    assert.equal(backoffDelay(3, () => 0), MIN_RECONNECT_MS);
    assert.equal(backoffDelay(20, () => 1), MAX_RECONNECT_MS);
  });
});

describe("frames", () => {
  test("a send carries the conversation, the body and the client id", () => {
    assert.deepEqual(sendFrame({ conversation: 7, body: "hi", clientId: "c1" }), {
      type: FRAME.SEND,
      conversation: 7,
      body: "hi",
      client_id: "c1",
    });
  });

  test("client ids are unique, also without crypto.randomUUID", () => {
    const ids = new Set(Array.from({ length: 50 }, () => newClientId({})));
    assert.equal(ids.size, 50);
    assert.match(newClientId(), /^[0-9a-f-]{36}$/);
  });

  test("a resync asks from the conversation's seq and change cursors", () => {
    const sync = new ConversationSync({ conversation: 7, lastSeq: 12, changeCursor: 3 });
    assert.deepEqual(sync.resyncFrame(), { type: FRAME.RESYNC, conversations: { 7: { seq: 12, changes: 3 } } });
  });
});

describe("ConversationSync", () => {
  test("each message is shown once, whether it comes by push, ack or resync", () => {
    const sync = new ConversationSync({ conversation: 7 });
    assert.equal(sync.receive(message(1)), "new");
    assert.equal(sync.receive(message(1)), "known");
    assert.equal(sync.receive(message(2)), "new");
    assert.equal(sync.lastSeq, 2);
  });

  test("messages of another conversation are not this one's", () => {
    const sync = new ConversationSync({ conversation: 7 });
    assert.equal(sync.receive({ ...message(1), conversation: 8 }), "other");
    assert.equal(sync.lastSeq, 0);
  });

  test("a gap asks for a resync, and while it runs later messages wait for it", () => {
    const sync = new ConversationSync({ conversation: 7, lastSeq: 1, known: [101] });
    assert.equal(sync.receive(message(3)), "gap");
    sync.resyncSent(true);
    assert.equal(sync.receive(message(4)), "held");
    assert.equal(sync.lastSeq, 1);
    const batch = sync.batch({ conversation: 7, messages: [message(2), message(3), message(4)], more: false });
    assert.equal(sync.resyncing, false);
    assert.deepEqual(
      batch.messages.map((m) => sync.receive(m)),
      ["new", "new", "new"],
    );
    assert.equal(sync.lastSeq, 4);
  });

  test("a message held back during a resync whose answer lacks it asks again", () => {
    // The server read the database for the resync before message 3 was stored; 3's push then
    // overtook the answer. Without asking again, 3 (the newest message) would never show.
    const sync = new ConversationSync({ conversation: 7, lastSeq: 0 });
    assert.equal(sync.receive(message(2)), "gap");
    sync.resyncSent(true);
    assert.equal(sync.receive(message(3)), "held");
    assert.equal(sync.behind(), false, "the answer is still to come");
    const batch = sync.batch({ conversation: 7, messages: [message(1), message(2)], more: false });
    assert.equal(batch.again, false);
    assert.deepEqual(
      batch.messages.map((m) => sync.receive(m)),
      ["new", "new"],
    );
    assert.equal(sync.behind(), true);
    assert.deepEqual(sync.resyncFrame().conversations, { 7: { seq: 2, changes: 0 } });
    sync.resyncSent(true);
    assert.equal(sync.behind(), false);
    sync.batch({ conversation: 7, messages: [message(3)], more: false }).messages.forEach((m) => sync.receive(m));
    assert.equal(sync.lastSeq, 3);
    assert.equal(sync.behind(), false);
  });

  test("a resync that times out after holding a message back asks again", () => {
    const sync = new ConversationSync({ conversation: 7 });
    sync.resyncSent(true);
    assert.equal(sync.receive(message(4)), "held");
    sync.resyncAbandoned();
    assert.equal(sync.behind(), true);
  });

  test("a resync whose answer brings what it held back is done", () => {
    const sync = new ConversationSync({ conversation: 7, lastSeq: 1, known: [101] });
    sync.resyncSent(true);
    assert.equal(sync.receive(message(3)), "held");
    sync.batch({ conversation: 7, messages: [message(2), message(3)] }).messages.forEach((m) => sync.receive(m));
    assert.equal(sync.behind(), false);
  });

  test("a capped resync answer asks again", () => {
    const sync = new ConversationSync({ conversation: 7 });
    assert.equal(sync.batch({ conversation: 7, messages: [], more: true }).again, true);
    assert.equal(sync.batch({ conversation: 7, messages: [], changes: [], changes_more: true }).again, true);
    assert.equal(sync.batch({ conversation: 7, messages: [] }).again, false);
    assert.equal(sync.batch({ conversation: 8, messages: [] }), null);
  });

  test("a resync that is never answered stops holding messages back", () => {
    const sync = new ConversationSync({ conversation: 7 });
    sync.resyncSent(true);
    assert.equal(sync.receive(message(5)), "held");
    sync.resyncAbandoned();
    assert.equal(sync.receive(message(5)), "gap");
  });

  test("a resync that could not be sent does not hold messages back", () => {
    const sync = new ConversationSync({ conversation: 7 });
    sync.resyncSent(false);
    assert.equal(sync.receive(message(5)), "gap");
  });

  test("older messages loaded by scrolling count as shown", () => {
    const sync = new ConversationSync({ conversation: 7, lastSeq: 60 });
    sync.addKnown([110]);
    assert.equal(sync.receive(message(10)), "known");
  });

  test("only the next change moves the change cursor; a gap in changes resyncs", () => {
    const sync = new ConversationSync({ conversation: 7, changeCursor: 2 });
    assert.deepEqual(sync.change(message(1, { change_seq: 3 })), { apply: true, resync: false });
    assert.equal(sync.changeCursor, 3);
    assert.deepEqual(sync.change(message(1, { change_seq: 3 })), { apply: true, resync: false });
    assert.deepEqual(sync.change(message(1, { change_seq: 6 })), { apply: true, resync: true });
    assert.equal(sync.changeCursor, 3);
    assert.deepEqual(sync.change({ ...message(1, { change_seq: 4 }), conversation: 9 }), { apply: false, resync: false });
  });

  test("a batch moves the change cursor to the server's, never back", () => {
    const sync = new ConversationSync({ conversation: 7, changeCursor: 5 });
    sync.batch({ conversation: 7, messages: [], changes: [], change_seq: 9 });
    assert.equal(sync.changeCursor, 9);
    sync.batch({ conversation: 7, messages: [], changes: [], change_seq: 4 });
    assert.equal(sync.changeCursor, 9);
  });
});

describe("Outbox", () => {
  test("a send stays until its ack, and goes again after a reconnect with the same client id", () => {
    const outbox = new Outbox();
    const entry = outbox.add({ conversation: 7, body: "hi", clientId: "c1" });
    outbox.sent("c1", true);
    assert.equal(entry.status, "sending");
    assert.deepEqual(outbox.toResend().map((e) => e.frame.client_id), ["c1"]);
    assert.equal(outbox.acked("c1"), entry);
    assert.deepEqual(outbox.toResend(), []);
    assert.equal(outbox.acked("c1"), undefined);
  });

  test("resends keep the order of sending, across conversations", () => {
    const outbox = new Outbox();
    outbox.add({ conversation: 7, body: "a", clientId: "c1" });
    outbox.add({ conversation: 8, body: "b", clientId: "c2" });
    outbox.add({ conversation: 7, body: "c", clientId: "c3" });
    assert.deepEqual(outbox.toResend().map((e) => e.clientId), ["c1", "c2", "c3"]);
    assert.deepEqual(outbox.inConversation(7).map((e) => e.body), ["a", "c"]);
  });

  test("a refused send is kept for Retry but not resent by itself", () => {
    const outbox = new Outbox();
    outbox.add({ conversation: 7, body: "x", clientId: "c1" });
    outbox.sent("c1", true);
    outbox.refused("c1", "Too long.");
    assert.equal(outbox.get("c1").status, "failed");
    assert.equal(outbox.get("c1").error, "Too long.");
    assert.deepEqual(outbox.toResend(), []);
    outbox.sent("c1", true); // Retry
    assert.deepEqual(outbox.toResend().map((e) => e.clientId), ["c1"]);
  });

  test("a send without an ack in time is stalled, and still resent after a reconnect", () => {
    const outbox = new Outbox();
    outbox.add({ conversation: 7, body: "x", clientId: "c1" });
    assert.equal(outbox.stalled("c1").status, "waiting"); // not on the wire: nothing to time out
    outbox.sent("c1", true);
    assert.equal(outbox.stalled("c1").status, "stalled");
    assert.deepEqual(outbox.toResend().map((e) => e.clientId), ["c1"]);
  });

  test("a discarded send is gone", () => {
    const outbox = new Outbox();
    outbox.add({ conversation: 7, body: "x", clientId: "c1" });
    outbox.refused("c1", "No.");
    assert.equal(outbox.discard("c1"), true);
    assert.equal(outbox.has("c1"), false);
  });
});
