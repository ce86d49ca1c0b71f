// The chat app shell (#chat-app): the conversation list on the left, the open conversation (or
// the New-message picker, or a placeholder) on the right; on phones one pane at a time
// (data-view = list | conversation | new). Opening a conversation fetches only the right pane
// (`?pane=1`) and swaps it in: no page load, so the one live socket stays open. URLs stay real
// (history.pushState): back/forward, reloads and deep links work, and every link and form is a
// plain one that works without JavaScript.

function paneUrl(url) {
  const target = new URL(url, window.location.href);
  target.searchParams.set("pane", "1");
  return target.toString();
}

function isShellUrl(url) {
  const target = new URL(url, window.location.href);
  return target.origin === window.location.origin && /^\/chat\/(\d+\/|new-message\/|requests\/|archived\/)?$/.test(target.pathname);
}

/** Keep the page as tall as the visual viewport, so an on-screen keyboard never covers the
 * composer (iOS shrinks only the visual viewport; the viewport meta's
 * interactive-widget=resizes-content makes Chromium resize the layout one too). */
function fitToVisualViewport() {
  const viewport = window.visualViewport;
  if (!viewport) return;
  const fit = () => {
    document.documentElement.style.setProperty("--chat-viewport-height", `${Math.round(viewport.height)}px`);
    if (viewport.offsetTop) window.scrollTo(0, 0);
  };
  viewport.addEventListener("resize", fit);
  viewport.addEventListener("scroll", fit);
  fit();
}

export function mountShell(app, { onSwap }) {
  fitToVisualViewport();
  const pane = app.querySelector("#chat-pane-main");
  let loading = null;
  let depth = 0;
  const pathOf = (url) => {
    const target = new URL(url, window.location.href);
    return target.pathname + target.search;
  };
  let shown = pathOf(window.location.href); // what the pane shows (a #fragment change is not a new pane)
  history.replaceState({ chat: true, depth }, "", window.location.href);

  function swapIn(fresh, url, { push }) {
    pane.replaceChildren(...[...fresh.childNodes].map((node) => document.importNode(node, true)));
    for (const [key, value] of Object.entries(fresh.dataset)) pane.dataset[key] = value;
    app.dataset.view = fresh.dataset.view || "list";
    shown = pathOf(url);
    if (fresh.dataset.title) document.title = fresh.dataset.title;
    if (push) {
      depth += 1;
      history.pushState({ chat: true, depth }, "", url);
    }
    onSwap(pane);
    document.dispatchEvent(new CustomEvent("chat:pane-swapped", { detail: { url } }));
  }

  function focusAfterSwap(trigger) {
    // On a phone the pane that had the focus is hidden now: move it to the new pane's heading.
    if (trigger && trigger.offsetParent !== null) return;
    const heading = app.dataset.view === "list" ? app.querySelector("#chat-list-heading") : pane.querySelector("[data-pane-heading]");
    heading?.focus({ preventScroll: true });
  }

  /** Show `url` (a chat list, conversation or New-message URL) without reloading the page. */
  async function open(url, { push = true, trigger = null } = {}) {
    loading?.abort();
    const controller = new AbortController();
    loading = controller;
    app.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(paneUrl(url), { credentials: "same-origin", signal: controller.signal });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = doc.getElementById("chat-pane-main");
      if (!fresh) throw new Error("no pane");
      swapIn(fresh, url, { push });
      focusAfterSwap(trigger);
    } catch (error) {
      if (error.name === "AbortError") return;
      window.location.assign(url); // let the server answer in full (an error page, a login)
    } finally {
      if (loading === controller) {
        loading = null;
        app.removeAttribute("aria-busy");
      }
    }
  }

  app.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = event.target.closest("a[data-chat-nav]");
    if (!link || !isShellUrl(link.href)) return;
    event.preventDefault();
    if (link.dataset.chatNav === "back" && depth > 0) {
      history.back(); // the list we came from, where we left it
      return;
    }
    if (link.href === window.location.href && app.dataset.view !== "list") return;
    open(link.href, { trigger: link });
  });

  // The New-message picker: POST to open (or start) the direct conversation, then show it.
  app.addEventListener("submit", async (event) => {
    const form = event.target.closest("form[data-chat-open]");
    if (!form) return;
    event.preventDefault();
    const button = event.submitter;
    if (button) button.disabled = true;
    try {
      const response = await fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" });
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = doc.getElementById("chat-pane-main");
      if (!response.ok || !response.redirected || !fresh || !isShellUrl(response.url)) {
        window.location.assign(response.url); // a refusal shows on that page, as without JavaScript
        return;
      }
      swapIn(fresh, response.url, { push: true });
      pane.querySelector("#composer textarea")?.focus();
    } catch {
      form.submit(); // let the browser post it
    } finally {
      if (button) button.disabled = false;
    }
  });

  window.addEventListener("popstate", (event) => {
    if (!isShellUrl(window.location.href) || pathOf(window.location.href) === shown) return;
    depth = event.state?.depth ?? 0;
    open(window.location.href, { push: false });
  });

  return { open };
}
