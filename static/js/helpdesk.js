// Help desk pages (loaded as a module by templates/helpdesk/queue.html and detail.html).
//
// Expert queue: live.js re-dispatches server events as DOM events. On
// "live:helpdesk.queue.added" and "live:helpdesk.queue.removed" the list fragment is fetched
// again with the page's own filters (the server decides what belongs in this queue), and a
// row that just arrived is highlighted. A removed row disappears at once, before the refetch.
//
// Request page: on "live:helpdesk.request.changed" for this request the page reloads (the
// server is the truth: status, meeting link, buttons).

const queue = document.getElementById("queue");
const requestPage = document.getElementById("help-request");

function listUrl() {
  const url = new URL(window.location.href);
  url.searchParams.set("fragment", "list");
  return url.toString();
}

let refreshing = null;
let again = false;

async function refreshQueue(highlightId) {
  if (refreshing) {
    again = true;
    return refreshing;
  }
  refreshing = (async () => {
    try {
      const response = await fetch(listUrl(), {
        headers: { "HX-Request": "true", Accept: "text/html" },
        credentials: "same-origin",
      });
      if (!response.ok) return;
      queue.innerHTML = await response.text();
      if (window.htmx) window.htmx.process(queue);
      if (highlightId) {
        const row = queue.querySelector(`[data-request="${CSS.escape(highlightId)}"]`);
        if (row) row.classList.add("help-arrived");
      }
    } catch {
      // Offline: live.js reconnects; the next event (or a reload) brings the queue up to date.
    } finally {
      refreshing = null;
      if (again) {
        again = false;
        refreshQueue();
      }
    }
  })();
  return refreshing;
}

if (queue) {
  document.addEventListener("live:helpdesk.queue.added", (event) => {
    refreshQueue(event.detail && event.detail.request);
  });
  document.addEventListener("live:helpdesk.queue.removed", (event) => {
    const id = event.detail && event.detail.request;
    if (id) {
      const row = queue.querySelector(`[data-request="${CSS.escape(id)}"]`);
      if (row) row.remove();
    }
    refreshQueue();
  });
  // After a reconnect events may have been missed: resync from the server.
  document.addEventListener("live:state", (event) => {
    if (event.detail && event.detail.state === "online") refreshQueue();
  });
}

if (requestPage) {
  document.addEventListener("live:helpdesk.request.changed", (event) => {
    if (event.detail && event.detail.request === requestPage.dataset.request) {
      window.location.reload();
    }
  });
}
