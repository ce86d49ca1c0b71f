// The New-message pane: the "To" box narrows the friends as you type; Enter opens the only one
// left. Picking a friend posts to chat:direct (shell.js shows the conversation it opens).

import { matchesQuery } from "./state.js";

export function mountPicker(pane) {
  const filter = pane.querySelector("#friend-filter");
  const list = pane.querySelector("#friend-list");
  if (!filter || !list) return null;
  const empty = pane.querySelector("#friend-filter-empty");
  const abort = new AbortController();
  const shown = () => [...list.querySelectorAll(".chat-friend")].filter((item) => !item.hidden);

  function apply() {
    for (const item of list.querySelectorAll(".chat-friend")) item.hidden = !matchesQuery(item.dataset.name || "", filter.value);
    if (empty) empty.hidden = shown().length > 0;
  }

  filter.addEventListener("input", apply, { signal: abort.signal });
  filter.form.addEventListener(
    "submit",
    (event) => {
      event.preventDefault();
      const only = shown();
      if (only.length === 1) only[0].querySelector("form").requestSubmit();
    },
    { signal: abort.signal },
  );
  apply();
  return { destroy: () => abort.abort() };
}
