// The help request's card pinned in a chat (templates/helpdesk/partials/chat_card.html).
//
// The server renders it with the conversation (no JavaScript needed). When the request changes,
// helpdesk pushes "helpdesk.request.changed" to its requester and expert after commit; live.js
// re-dispatches it as a DOM event, and the card is fetched again from the server (which decides
// what it shows: stage, time in the reader's zone, the join link). The chat shell swaps panes
// without reloading, so the card is looked up when the event arrives, not once at load.

async function refreshCard(card) {
  try {
    const response = await fetch(card.dataset.cardUrl, {
      headers: { Accept: "text/html" },
      credentials: "same-origin",
    });
    if (!response.ok) return; // gone (released, no longer visible): keep what is shown until reload
    const template = document.createElement("template");
    template.innerHTML = (await response.text()).trim();
    const fresh = template.content.querySelector("[data-help-card]");
    if (fresh && card.isConnected) card.replaceWith(fresh);
  } catch {
    // Offline: live.js reconnects and the next change (or a reload) brings the card up to date.
  }
}

function cardsFor(requestId) {
  return document.querySelectorAll(`[data-help-card="${CSS.escape(requestId)}"]`);
}

document.addEventListener("live:helpdesk.request.changed", (event) => {
  const id = event.detail && event.detail.request;
  if (id) cardsFor(id).forEach(refreshCard);
});

// After a reconnect an event may have been missed: refresh every card shown.
document.addEventListener("live:state", (event) => {
  if (event.detail && event.detail.state === "online") {
    document.querySelectorAll("[data-help-card]").forEach(refreshCard);
  }
});
