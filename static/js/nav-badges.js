// The navbar's People and Queue badges (templates/partials/nav_badge.html), kept current live.
//
// The server renders both counts on every page. This module listens to live events that exist
// for them — live.js re-dispatches every socket event on document as "live:<type>" — and then
// asks the server for the counts again (GET /nav/badges/, config.views.nav_badges): the server
// is the truth, an event is only the hint that a count may have changed.
//   - "live:notification.new" of kind friend_request: someone asked the user to be friends;
//   - "live:helpdesk.queue.added" / "live:helpdesk.queue.removed": the expert's queue changed;
//   - "live:state" back to online after a drop: events may have been missed meanwhile.
// Several events within REFRESH_DELAY_MS cost one request. Loaded on every signed-in page.

export const REFRESH_DELAY_MS = 300;

const QUEUE_EVENTS = new Set(["helpdesk.queue.added", "helpdesk.queue.removed"]);

// Should this live event (its type without "live:", and its detail) refresh the badges?
// `wasOnline` says whether the socket had been online before (the first "online" of a page
// needs no refresh: the page was rendered with the counts).
export function wantsRefresh(type, detail, { wasOnline = false } = {}) {
  if (type === "notification.new") return detail?.notification?.kind === "friend_request";
  if (type === "state") return detail?.state === "online" && wasOnline;
  return QUEUE_EVENTS.has(type);
}

// What a badge shows for a count: "" hides it, more than 99 is "99+".
export function badgeText(count) {
  if (!Number.isInteger(count) || count <= 0) return "";
  return count > 99 ? "99+" : String(count);
}

function setBadge(badge, count) {
  const text = badgeText(count);
  const number = badge.querySelector(".nav-count-number");
  if (number) number.textContent = text || "0";
  badge.classList.toggle("d-none", text === "");
}

function mount(nav) {
  const url = nav.dataset.badgesUrl;
  const badges = () => document.querySelectorAll("[data-nav-badge]");
  if (!url || !badges().length) return;
  let timer = null;
  let wasOnline = false;

  async function refresh() {
    timer = null;
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const counts = await response.json();
      for (const badge of badges()) {
        const count = counts[badge.dataset.navBadge];
        if (count !== undefined && count !== null) setBadge(badge, count);
      }
    } catch {
      // Offline: the next event, the next reconnect or the next page brings the counts.
    }
  }

  function schedule() {
    if (timer === null) timer = setTimeout(refresh, REFRESH_DELAY_MS);
  }

  for (const type of ["notification.new", "helpdesk.queue.added", "helpdesk.queue.removed", "state"]) {
    document.addEventListener(`live:${type}`, (event) => {
      if (wantsRefresh(type, event.detail, { wasOnline })) schedule();
      if (type === "state" && event.detail?.state === "online") wasOnline = true;
    });
  }
}

if (typeof document !== "undefined") {
  const nav = document.querySelector("[data-badges-url]");
  if (nav) mount(nav);
}
