// Replies, reactions and the emoji picker's logic (static/js/chat/reactions.js), and the reply
// field of a send (protocol.js).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { Outbox, sendFrame } from "../../static/js/chat/protocol.js";
import {
  gridMove,
  insertAt,
  placePopover,
  quoteText,
  reactionChips,
  reactionWho,
  toggleAction,
} from "../../static/js/chat/reactions.js";

// Users are named by their public id, a UUID string (as on the socket and in the API).
const uid = (n) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
const ME = uid(1);
const thumbs = (ids, names = ids.map((id) => `User ${Number(id.slice(-12))}`)) => ({
  emoji: "👍",
  name: "thumbs up",
  count: ids.length,
  user_public_ids: ids,
  names,
});

describe("who reacted", () => {
  test("says You first, then the others in the order they reacted", () => {
    assert.equal(reactionWho(thumbs([uid(2)]), ME), "User 2");
    assert.equal(reactionWho(thumbs([ME]), ME), "You");
    assert.equal(reactionWho(thumbs([uid(2), ME]), ME), "You and User 2");
    assert.equal(reactionWho(thumbs([uid(2), uid(3), ME]), ME), "You, User 2 and User 3");
  });

  test("counts the people past the names the payload carries", () => {
    const group = { ...thumbs([uid(2), uid(3)]), count: 5, user_public_ids: [uid(2), uid(3), uid(4), uid(5), uid(6)] };
    assert.equal(reactionWho(group, ME), "User 2, User 3 and 3 others");
    assert.equal(reactionWho({ ...group, count: 3 }, ME), "User 2, User 3 and 1 other");
    // I am among them but past the names shown: still "You"
    assert.equal(reactionWho({ ...group, user_public_ids: [uid(2), uid(3), uid(4), uid(5), ME] }, ME), "You, User 2, User 3 and 2 others");
  });
});

describe("reaction chips", () => {
  test("carry the count, whether I reacted and a label for screen readers", () => {
    const [chip] = reactionChips([thumbs([uid(2), ME], ["Ada Lovelace", "Me"])], ME);
    assert.deepEqual(chip, {
      emoji: "👍",
      name: "thumbs up",
      count: 2,
      mine: true,
      who: "You and Ada Lovelace",
      label: "2, You and Ada Lovelace reacted with thumbs up",
    });
  });

  test("leave out empty groups and nothing at all", () => {
    assert.deepEqual(reactionChips([{ ...thumbs([]), count: 0 }], ME), []);
    assert.deepEqual(reactionChips(undefined, ME), []);
  });

  test("a click removes my reaction and adds one I do not have", () => {
    assert.equal(toggleAction([thumbs([ME])], "👍", ME), "remove");
    assert.equal(toggleAction([thumbs([uid(2)])], "👍", ME), "add");
    assert.equal(toggleAction([thumbs([ME])], "❤️", ME), "add");
    assert.equal(toggleAction([], "👍", ME), "add");
  });
});

describe("the picker's keyboard", () => {
  const grid = { columns: 8, count: 40 };
  test("arrows move one step or one row and stop at the edges", () => {
    assert.equal(gridMove(0, "ArrowRight", grid), 1);
    assert.equal(gridMove(0, "ArrowLeft", grid), 0);
    assert.equal(gridMove(39, "ArrowRight", grid), 39);
    assert.equal(gridMove(3, "ArrowDown", grid), 11);
    assert.equal(gridMove(35, "ArrowDown", grid), 35);
    assert.equal(gridMove(11, "ArrowUp", grid), 3);
    assert.equal(gridMove(3, "ArrowUp", grid), 3);
  });

  test("Home and End go to the row's ends, with ctrl to the first and last", () => {
    assert.equal(gridMove(13, "Home", grid), 8);
    assert.equal(gridMove(13, "End", grid), 15);
    assert.equal(gridMove(13, "Home", { ...grid, ctrl: true }), 0);
    assert.equal(gridMove(13, "End", { ...grid, ctrl: true }), 39);
    assert.equal(gridMove(36, "End", { columns: 8, count: 38 }), 37); // a short last row
  });

  test("other keys are not the grid's", () => {
    assert.equal(gridMove(0, "a", grid), null);
    assert.equal(gridMove(0, "Enter", grid), null);
    assert.equal(gridMove(0, "ArrowRight", { columns: 8, count: 0 }), null);
  });
});

describe("an emoji into the composer", () => {
  test("replaces the selection and puts the caret after it", () => {
    assert.deepEqual(insertAt("Hi !", 3, 3, "👋"), { value: "Hi 👋!", caret: 5 });
    assert.deepEqual(insertAt("Hi there", 3, 8, "🙂"), { value: "Hi 🙂", caret: 5 });
    assert.deepEqual(insertAt("", undefined, undefined, "🎉"), { value: "🎉", caret: 2 });
    assert.deepEqual(insertAt("abc", 10, 20, "!"), { value: "abc!", caret: 4 });
  });
});

describe("the picker's place", () => {
  const size = { width: 300, height: 200 };
  const bounds = { width: 390, height: 700 };
  test("above the opener when it fits, else below, always inside the bounds", () => {
    assert.deepEqual(placePopover({ left: 20, right: 60, top: 600, bottom: 640 }, size, bounds), { left: 20, top: 396 });
    assert.deepEqual(placePopover({ left: 20, right: 60, top: 50, bottom: 90 }, size, bounds), { left: 20, top: 94 });
    // too far right: pulled in; aligned with the opener's end for my own messages
    assert.equal(placePopover({ left: 300, right: 340, top: 600, bottom: 640 }, size, bounds).left, 82);
    assert.equal(placePopover({ left: 300, right: 340, top: 600, bottom: 640 }, size, bounds, { align: "end" }).left, 40);
    // no room above or below: kept on screen
    const tight = placePopover({ left: 0, right: 40, top: 150, bottom: 190 }, size, { width: 390, height: 300 });
    assert.deepEqual(tight, { left: 8, top: 92 });
  });
});

describe("replies", () => {
  test("a quote shows the first line, or that the original was deleted", () => {
    assert.equal(quoteText({ excerpt: "See you", deleted: false }), "See you");
    assert.equal(quoteText({ excerpt: "", deleted: true }), "Original message deleted");
    assert.equal(quoteText(null), "");
  });

  test("a send carries reply_to only when it answers a message, and keeps it across retries", () => {
    assert.equal("reply_to" in sendFrame({ conversation: 1, body: "x", clientId: "c1" }), false);
    assert.equal(sendFrame({ conversation: 1, body: "x", clientId: "c1", replyTo: 7 }).reply_to, 7);
    const outbox = new Outbox();
    const quote = { id: 7, seq: 3, sender: "Ada", excerpt: "Hi", deleted: false };
    const entry = outbox.add({ conversation: 1, body: "x", clientId: "c1", replyTo: 7, reply: quote });
    outbox.sent("c1", true);
    outbox.stalled("c1");
    assert.equal(outbox.toResend()[0].frame.reply_to, 7);
    assert.equal(entry.reply, quote);
  });
});
