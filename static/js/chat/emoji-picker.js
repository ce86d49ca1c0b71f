// The conversation's one emoji picker (#emoji-picker, rendered by the server from chat.emoji's
// curated list): a small non-modal dialog next to whoever opened it — the composer's smiley
// button (insert into the message) or a message's React button (toggle a reaction). Keyboard:
// the arrows, Home/End move between the emoji (one tab stop, a roving tabindex), Enter/Space
// choose, Escape closes and gives the focus back to the opener; a click or focus outside closes.

import { gridMove, placePopover } from "./reactions.js";

export function mountEmojiPicker(picker, { container }) {
  const abort = new AbortController();
  const on = (target, type, handler) => target.addEventListener(type, handler, { signal: abort.signal });
  const grid = picker.querySelector(".chat-emoji-grid");
  const title = picker.querySelector("#emoji-picker-title");
  const buttons = () => [...grid.querySelectorAll("button[data-emoji]")];
  let opener = null;
  let onPick = null;
  let active = 0;

  function columns() {
    const template = getComputedStyle(grid).gridTemplateColumns;
    return Math.max(1, template && template !== "none" ? template.split(" ").length : 8);
  }

  function focusIndex(index) {
    const all = buttons();
    active = Math.max(0, Math.min(index, all.length - 1));
    all.forEach((button, i) => {
      button.tabIndex = i === active ? 0 : -1;
    });
    all[active]?.focus();
  }

  function position(align) {
    const box = container.getBoundingClientRect();
    const rect = opener.getBoundingClientRect();
    const anchor = {
      left: rect.left - box.left,
      right: rect.right - box.left,
      top: rect.top - box.top,
      bottom: rect.bottom - box.top,
    };
    const place = placePopover(
      anchor,
      { width: picker.offsetWidth, height: picker.offsetHeight },
      { width: box.width, height: box.height },
      { align },
    );
    picker.style.left = `${place.left}px`;
    picker.style.top = `${place.top}px`;
  }

  function close({ restoreFocus = false } = {}) {
    if (picker.hidden) return;
    picker.hidden = true;
    opener?.setAttribute("aria-expanded", "false");
    if (restoreFocus) opener?.focus();
    opener = null;
    onPick = null;
  }

  /** Open next to `button`; `pick(emoji)` is called with the chosen one. */
  function open(button, { heading, pick, align = "start" }) {
    if (opener === button && !picker.hidden) {
      close({ restoreFocus: true });
      return;
    }
    close();
    opener = button;
    onPick = pick;
    title.textContent = heading;
    picker.hidden = false;
    opener.setAttribute("aria-expanded", "true");
    position(align);
    focusIndex(0);
  }

  on(grid, "click", (event) => {
    const button = event.target.closest("button[data-emoji]");
    if (!button || !onPick) return;
    const pick = onPick;
    close({ restoreFocus: true });
    pick(button.dataset.emoji);
  });

  on(picker, "keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      close({ restoreFocus: true });
      return;
    }
    const all = buttons();
    const current = all.indexOf(document.activeElement);
    if (current < 0) return;
    const next = gridMove(current, event.key, { columns: columns(), count: all.length, ctrl: event.ctrlKey });
    if (next === null) return;
    event.preventDefault();
    focusIndex(next);
  });

  on(picker, "click", (event) => {
    if (event.target.closest("[data-action=close-picker]")) close({ restoreFocus: true });
  });

  on(document, "pointerdown", (event) => {
    if (!picker.hidden && !picker.contains(event.target) && !opener?.contains(event.target)) close();
  });

  on(picker, "focusout", (event) => {
    if (event.relatedTarget && !picker.contains(event.relatedTarget) && event.relatedTarget !== opener) close();
  });

  return {
    open,
    close,
    get isOpen() {
      return !picker.hidden;
    },
    destroy() {
      close();
      abort.abort();
    },
  };
}
