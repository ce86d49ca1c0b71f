// Sending messages over the live socket, for the whole tab: the outbox (protocol.js), ack
// timeouts, the rate-limit retry, Retry and Discard. Survives switching conversations, so a
// message sent just before opening another chat is still resent after a reconnect. Tells the
// open conversation about each change of a send's state with a "chat:delivery" DOM event
// (detail: { clientId, conversation, status, detail }).

import { ACK_TIMEOUT_MS, newClientId, Outbox, RATE_LIMIT_RETRY_MS } from "./protocol.js";

export function createDelivery(live, { timers = globalThis } = {}) {
  const outbox = new Outbox();
  const ackTimers = new Map();

  function emit(entry, status = entry.status) {
    const detail = { clientId: entry.clientId, conversation: entry.conversation, status, detail: entry.error };
    document.dispatchEvent(new CustomEvent("chat:delivery", { detail }));
  }

  function disarm(clientId) {
    timers.clearTimeout(ackTimers.get(clientId));
    ackTimers.delete(clientId);
  }

  function transmit(entry) {
    const sent = live.send(entry.frame);
    outbox.sent(entry.clientId, sent);
    disarm(entry.clientId);
    if (sent) {
      ackTimers.set(
        entry.clientId,
        timers.setTimeout(() => {
          ackTimers.delete(entry.clientId);
          if (outbox.stalled(entry.clientId)?.status === "stalled") emit(entry);
        }, ACK_TIMEOUT_MS),
      );
    }
    emit(entry);
    return entry;
  }

  document.addEventListener("live:message.ack", (event) => {
    disarm(event.detail.client_id);
    outbox.acked(event.detail.client_id);
  });

  document.addEventListener("live:error", (event) => {
    const error = event.detail;
    const entry = error.client_id ? outbox.get(error.client_id) : undefined;
    if (!entry) return;
    disarm(entry.clientId);
    if (error.code === "rate_limited") {
      emit(entry, "rate_limited");
      timers.setTimeout(() => {
        if (outbox.has(entry.clientId)) transmit(entry);
      }, RATE_LIMIT_RETRY_MS);
      return;
    }
    outbox.refused(entry.clientId, error.detail);
    emit(entry);
  });

  return {
    outbox,
    /** A new message: into the outbox, and onto the wire if the socket is open. */
    send({ conversation, body, reply = null }) {
      return transmit(outbox.add({ conversation, body, reply, replyTo: reply ? reply.id : null, clientId: newClientId() }));
    },
    /** After every (re)connect's hello: everything not acked goes again, same client ids. */
    flush() {
      for (const entry of outbox.toResend()) transmit(entry);
    },
    retry(clientId) {
      const entry = outbox.get(clientId);
      return entry ? transmit(entry) : undefined;
    },
    discard(clientId) {
      disarm(clientId);
      return outbox.discard(clientId);
    },
  };
}
