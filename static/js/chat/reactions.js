// Replies, reactions and the emoji picker without the DOM: what a reaction chip says, which way
// a click toggles, how the picker's keyboard moves, where a popover goes and how an emoji goes
// into the composer. Unit-tested by tests/js/reactions.test.js; render.js and emoji-picker.js
// draw what these decide.

/**
 * Who reacted, as the server's chat_tags.reaction_who says it: "You" first, then the others in
 * the order they reacted, "and N others" past the names the payload carries.
 */
export function reactionWho(group, me) {
  const ids = group.user_public_ids || [];
  const names = (group.names || []).map((name, index) => (ids[index] === me ? "You" : name));
  if (ids.includes(me) && !names.includes("You")) names.unshift("You");
  names.sort((a, b) => (a === "You" ? -1 : b === "You" ? 1 : 0));
  const rest = (group.count || 0) - names.length;
  if (rest > 0) return `${names.join(", ")} and ${rest} other${rest === 1 ? "" : "s"}`;
  if (names.length > 1) return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
  return names[0] || "";
}

/** A message's reactions (payload `reactions`) as chips: emoji, name, count, mine, who, label. */
export function reactionChips(reactions, me) {
  return (reactions || [])
    .filter((group) => group && group.count > 0)
    .map((group) => {
      const who = reactionWho(group, me);
      return {
        emoji: group.emoji,
        name: group.name || "",
        count: group.count,
        mine: (group.user_public_ids || []).includes(me),
        who,
        // The tooltip's words, in order: what a sighted user reads is what a screen reader says.
        label: `${group.count}, ${who} reacted with ${group.name || group.emoji}`,
      };
    });
}

/** What choosing `emoji` on a message does for me: "remove" when I reacted so already, else "add". */
export function toggleAction(reactions, emoji, me) {
  const group = (reactions || []).find((entry) => entry.emoji === emoji);
  return group && (group.user_public_ids || []).includes(me) ? "remove" : "add";
}

/**
 * The picker's keyboard: the button index after `key` in a grid of `count` buttons and
 * `columns` columns (arrows stop at the edges, Home/End go to the row's ends, ctrl+Home/End to
 * the first/last). Returns null for a key the grid does not handle.
 */
export function gridMove(index, key, { columns, count, ctrl = false }) {
  if (count <= 0) return null;
  const last = count - 1;
  const rowStart = index - (index % columns);
  switch (key) {
    case "ArrowRight":
      return Math.min(last, index + 1);
    case "ArrowLeft":
      return Math.max(0, index - 1);
    case "ArrowDown":
      return index + columns <= last ? index + columns : index;
    case "ArrowUp":
      return index - columns >= 0 ? index - columns : index;
    case "Home":
      return ctrl ? 0 : rowStart;
    case "End":
      return ctrl ? last : Math.min(last, rowStart + columns - 1);
    default:
      return null;
  }
}

/** An emoji typed into the composer at the selection: the new value and where the caret goes. */
export function insertAt(value, start, end, text) {
  const from = Math.max(0, Math.min(start ?? value.length, value.length));
  const to = Math.max(from, Math.min(end ?? from, value.length));
  return { value: value.slice(0, from) + text + value.slice(to), caret: from + text.length };
}

/**
 * Where a popover of `size` {width, height} goes for an opener at `anchor` {left, top, right,
 * bottom}, inside `bounds` {width, height} (all in the container's coordinates): above the
 * opener when it fits there, else below; aligned with the opener's start (or its end for
 * `align: "end"`) and kept inside the bounds with an 8 px margin.
 */
export function placePopover(anchor, size, bounds, { align = "start", margin = 8 } = {}) {
  const above = anchor.top - size.height - 4;
  const below = anchor.bottom + 4;
  let top = above >= margin ? above : below;
  if (top + size.height > bounds.height - margin) top = Math.max(margin, bounds.height - margin - size.height);
  let left = align === "end" ? anchor.right - size.width : anchor.left;
  left = Math.max(margin, Math.min(left, bounds.width - margin - size.width));
  return { left: Math.round(left), top: Math.round(top) };
}

/** A reply's quote text: the original's first line, or that it was deleted. */
export function quoteText(reply) {
  if (!reply) return "";
  return reply.deleted ? "Original message deleted" : reply.excerpt || "";
}
