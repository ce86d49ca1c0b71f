// Unit tests of static/js/nav-badges.js's rules (no DOM): which live events refresh the badges,
// and what a badge shows for a count.
import assert from "node:assert/strict";
import { test } from "node:test";

import { badgeText, wantsRefresh } from "../../static/js/nav-badges.js";

test("a new friend-request notification refreshes the badges, other notifications do not", () => {
  assert.equal(wantsRefresh("notification.new", { notification: { kind: "friend_request" } }), true);
  assert.equal(wantsRefresh("notification.new", { notification: { kind: "mention" } }), false);
  assert.equal(wantsRefresh("notification.new", {}), false);
  assert.equal(wantsRefresh("notification.new", undefined), false);
});

test("a request entering or leaving the expert's queue refreshes the badges", () => {
  assert.equal(wantsRefresh("helpdesk.queue.added", { request: "x" }), true);
  assert.equal(wantsRefresh("helpdesk.queue.removed", { request: "x" }), true);
  assert.equal(wantsRefresh("helpdesk.request.changed", { request: "x" }), false);
  assert.equal(wantsRefresh("message.new", {}), false);
});

test("only coming back online after a drop refreshes (the page was rendered with the counts)", () => {
  assert.equal(wantsRefresh("state", { state: "online" }, { wasOnline: false }), false);
  assert.equal(wantsRefresh("state", { state: "online" }, { wasOnline: true }), true);
  assert.equal(wantsRefresh("state", { state: "offline" }, { wasOnline: true }), false);
});

test("a badge hides at zero, shows the count, and caps at 99+", () => {
  assert.equal(badgeText(0), "");
  assert.equal(badgeText(-1), "");
  assert.equal(badgeText(null), "");
  assert.equal(badgeText(1.5), "");
  assert.equal(badgeText(3), "3");
  assert.equal(badgeText(99), "99");
  assert.equal(badgeText(100), "99+");
});
