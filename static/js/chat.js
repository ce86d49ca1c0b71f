// Lyceum chat in the browser (ES modules, CSP-safe: no inline code, no innerHTML of message data).
// This entry wires the modules of static/js/chat/ to the page and to the tab's one live socket
// (live.js); docs/chat-ui.md describes them:
//   protocol.js   frames, outbox, resync cursors, close codes (no DOM; unit-tested)
//   state.js      read markers, "Seen", typing, list rows, presence (no DOM; unit-tested)
//   format.js     times, day labels, sizes (no DOM; unit-tested)
//   delivery.js   the tab's sends: outbox, ack timeouts, rate-limit retry, Retry/Discard
//   render.js     message items, bodies (server-rendered body_html through an allowlist), days
//   conversation.js, list.js, picker.js, shell.js, upload.js, everywhere.js: the screens
// Loaded on every signed-in page (base.html): the navbar's Chats badge and presence dots work
// everywhere; the list, the conversation and the app shell where their markup is.

import { mountConversation } from "./chat/conversation.js";
import { createDelivery } from "./chat/delivery.js";
import { startEverywhere } from "./chat/everywhere.js";
import { mountConversationList } from "./chat/list.js";
import { mountPicker } from "./chat/picker.js";
import { mountShell } from "./chat/shell.js";
import * as live from "./live.js";

const delivery = createDelivery(live);
const listElement = document.getElementById("chat-list");
const list = listElement ? mountConversationList(listElement, { live }) : null;
let conversation = null;
let picker = null;

function mountPane(container) {
  conversation?.destroy();
  picker?.destroy();
  const root = container.querySelector("#chat");
  conversation = root ? mountConversation(root, { live, delivery }) : null;
  picker = mountPicker(container);
  list?.setActive(conversation ? conversation.conversation : null);
}

mountPane(document);
const app = document.getElementById("chat-app");
if (app) mountShell(app, { onSwap: mountPane });

// Every (re)connect: catch up from the database, then resend what was never acked.
document.addEventListener("live:hello", () => {
  conversation?.reconnected();
  delivery.flush();
  conversation?.markRead();
});

startEverywhere(live);
