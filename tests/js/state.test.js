// What the chat screens derive from live events (static/js/chat/state.js) and how they label
// times and days (static/js/chat/format.js).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { badgeText, dayKey, dayLabel, formatTime, safeLocalUrl, sizeLabel, toDate } from "../../static/js/chat/format.js";
import {
  matchesQuery,
  Presence,
  preview,
  ReadMarker,
  rowAfterMessage,
  seenVisible,
  TypingThrottle,
  typingText,
  unreadAfterRead,
} from "../../static/js/chat/state.js";

// Users are named by their public id, a UUID string (as on the socket and in the API).
const uid = (n) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
const ME = uid(1);
const ada = { public_id: uid(2), name: "Ada Lovelace" };
const text = (seq, sender, body = "hello", extra = {}) => ({ seq, kind: "text", sender, body, attachments: [], ...extra });

describe("read marker", () => {
  test("a read goes out only when visible and moving forward", () => {
    const reads = new ReadMarker();
    assert.equal(reads.due(3, false), false);
    assert.equal(reads.due(3, true), true);
    reads.moved(3);
    assert.equal(reads.due(3, true), false);
    reads.moved(1); // an older read from another tab does not move it back
    assert.equal(reads.sent, 3);
  });
});

describe("Seen", () => {
  test("shows when the other person read my newest message and it is the newest", () => {
    assert.equal(seenVisible({ lastMineSeq: 4, lastSeq: 4, otherRead: 4 }), true);
    assert.equal(seenVisible({ lastMineSeq: 4, lastSeq: 4, otherRead: 3 }), false);
    assert.equal(seenVisible({ lastMineSeq: 4, lastSeq: 5, otherRead: 5 }), false);
    assert.equal(seenVisible({ lastMineSeq: 0, lastSeq: 0, otherRead: 0 }), false);
  });
});

describe("typing", () => {
  test("one typing frame per interval while there is text; sending resets it", () => {
    const typing = new TypingThrottle(3000);
    assert.equal(typing.due(0, "   "), false);
    assert.equal(typing.due(0, "h"), true);
    typing.sent(0);
    assert.equal(typing.due(2999, "hi"), false);
    assert.equal(typing.due(3001, "hi"), true);
    typing.reset();
    assert.equal(typing.due(1, "x"), true);
  });

  test("the typing line names the person in a group only", () => {
    assert.equal(typingText(ada, false), "typing…");
    assert.equal(typingText(ada, true), "Ada Lovelace is typing…");
  });
});

describe("conversation list rows", () => {
  test("someone else's message counts as unread and previews with their first name", () => {
    assert.deepEqual(rowAfterMessage({ lastSeq: 2, unread: 1 }, text(3, ada, "See you"), ME), {
      lastSeq: 3,
      unread: 2,
      who: "Ada",
      text: "See you",
    });
  });

  test("my own message clears the count and says You", () => {
    assert.deepEqual(rowAfterMessage({ lastSeq: 2, unread: 2 }, text(3, { public_id: ME, name: "Me Myself" }), ME), {
      lastSeq: 3,
      unread: 0,
      who: "You",
      text: "hello",
    });
  });

  test("a message the row has counted already changes nothing", () => {
    assert.equal(rowAfterMessage({ lastSeq: 3, unread: 1 }, text(3, ada), ME), null);
  });

  test("files without text preview as a count; system messages have no sender label", () => {
    assert.deepEqual(preview(text(1, ada, "", { attachments: [{}, {}] }), ME), { who: "Ada", text: "2 files" });
    assert.deepEqual(preview({ seq: 1, kind: "system", sender: null, body: "Bob joined", attachments: [] }, ME), {
      who: "",
      text: "Bob joined",
    });
    assert.equal(preview(text(1, ada, "x".repeat(500)), ME).text.length, 120);
  });

  test("my read clears the badge only when it covers the row's last message", () => {
    assert.equal(unreadAfterRead({ lastSeq: 5, unread: 2 }, 5), 0);
    assert.equal(unreadAfterRead({ lastSeq: 5, unread: 2 }, 4), 2);
  });

  test("the search box matches every word, ignoring case and accents", () => {
    assert.equal(matchesQuery("Zoë Martínez", "zoe mart"), true);
    assert.equal(matchesQuery("Zoë Martínez", "  "), true);
    assert.equal(matchesQuery("Zoë Martínez", "zoe smith"), false);
  });
});

describe("presence", () => {
  test("a full state replaces, a change adds or removes one friend", () => {
    const presence = new Presence();
    presence.replace([uid(2), uid(3)]);
    presence.update(uid(4), true);
    presence.update(uid(2), false);
    assert.deepEqual([2, 3, 4].map((n) => presence.has(uid(n))), [false, true, true]);
  });
});

describe("format", () => {
  test("one time format for every message, from the browser's locale", () => {
    const date = new Date(2026, 2, 3, 13, 45);
    assert.equal(formatTime(date, "en-US"), "1:45 PM");
    assert.equal(formatTime(date, "en-GB"), "13:45");
  });

  test("day separators say Today, Yesterday, then the date (with the year when it is not this one)", () => {
    const now = new Date(2026, 2, 3, 0, 10);
    assert.equal(dayLabel(new Date(2026, 2, 3, 0, 0), now, "en-GB"), "Today");
    assert.equal(dayLabel(new Date(2026, 2, 2, 23, 59), now, "en-GB"), "Yesterday");
    // (The punctuation between the parts is the locale data's: only the parts are checked.)
    assert.match(dayLabel(new Date(2026, 1, 27, 9, 0), now, "en-GB"), /^Friday,? 27 February$/);
    assert.match(dayLabel(new Date(2025, 11, 31, 9, 0), now, "en-GB"), /^Wednesday,? 31 December 2025$/);
    // Across a month boundary, yesterday is still yesterday.
    assert.match(dayLabel(new Date(2026, 1, 28, 12, 0), now, "en-GB"), /^Saturday,? 28 February$/);
    assert.equal(dayLabel(new Date(2026, 1, 28, 12, 0), new Date(2026, 2, 1, 8, 0), "en-GB"), "Yesterday");
  });

  test("days are grouped by the local calendar date", () => {
    assert.equal(dayKey(new Date(2026, 0, 5, 23, 59)), "2026-01-05");
  });

  test("invalid or missing dates are null", () => {
    assert.equal(toDate(""), null);
    assert.equal(toDate("not a date"), null);
    assert.equal(toDate("2026-03-03T10:00:00+00:00").toISOString(), "2026-03-03T10:00:00.000Z");
  });

  test("sizes, badge counts and local URLs", () => {
    assert.equal(sizeLabel(512), "512 bytes");
    assert.equal(sizeLabel(1536), "1.5 KB");
    assert.equal(sizeLabel(10 * 1024 * 1024), "10.0 MB");
    assert.equal(badgeText(7), "7");
    assert.equal(badgeText(120), "99+");
    assert.equal(safeLocalUrl("/chat/files/1/"), "/chat/files/1/");
    assert.equal(safeLocalUrl("//evil.example/x"), null);
    assert.equal(safeLocalUrl("https://evil.example/x"), null);
  });
});
