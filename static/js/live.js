// Lyceum live socket: one WebSocket per tab to /ws/live/ (loaded by base.html for signed-in users).
//
// - reconnects with exponential backoff and jitter (1 s → 30 s), and when a pong is late;
// - never reconnects after the server closed with 4401 (CLOSE_SIGNED_OUT: this session or
//   ticket ended — logout, password change, deactivation): it dispatches "live:signed-out" and
//   goes to the login page (data-login-url of the script tag), which comes back here when the
//   session still holds;
// - shows its state on #live-status (data-state = connecting | online | offline | signed-out);
// - keeps the #notif-badge count from "hello", "notification.new" and "notification.read";
// - shows a toast in #toasts for each new notification;
// - re-dispatches every event on document as "live:event" and "live:<type>", so later
//   features subscribe without touching this file:
//     document.addEventListener("live:message.new", (e) => render(e.detail));
//
// - when the server closes the socket because the session is over (protocol.js's
//   SIGNED_OUT_CLOSE_CODE), goes to the login page (#live-module's data-login-url, with ?next=)
//   instead of reconnecting;
//
// Exported: send(frame) → true if sent now, and state() → the current state.

import { afterClose, backoffDelay, FRAME } from "./chat/protocol.js";

const DEFAULT_HEARTBEAT_S = 25;
const PONG_TIMEOUT_MS = 10000;
// Before going to the login page: a password change closes every socket of the user at its
// commit, and the new session cookie of the tab that made it arrives with that tab's answer a
// moment later; going after it, this tab comes straight back instead of stopping at the form.
const SIGNED_OUT_GRACE_MS = 1000;

const STATE_TITLES = {
  connecting: "Live connection: connecting…",
  online: "Live connection: online",
  offline: "Live connection: offline, retrying",
  "signed-out": "Live connection: signed out",
};

let socket = null;
let currentState = "connecting";
let attempt = 0;
let reconnectTimer = null;
let pingTimer = null;
let pongTimer = null;
let heartbeatMs = DEFAULT_HEARTBEAT_S * 1000;
let signedOut = false;

function socketUrl() {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}/ws/live/`;
}

function setState(next) {
  currentState = next;
  const el = document.getElementById("live-status");
  if (el) {
    el.dataset.state = next;
    el.title = STATE_TITLES[next] || next;
    el.setAttribute("aria-label", el.title);
    const label = el.querySelector(".visually-hidden");
    if (label) label.textContent = next;
  }
  document.dispatchEvent(new CustomEvent("live:state", { detail: { state: next } }));
}

function setBadge(unread) {
  const badge = document.getElementById("notif-badge");
  if (!badge || typeof unread !== "number" || unread < 0) return;
  const previous = Number.parseInt(badge.textContent, 10) || 0;
  badge.textContent = unread > 99 ? "99+" : String(unread);
  badge.classList.toggle("d-none", unread === 0);
  // The notifications page's "N unread" line, when it is on screen.
  for (const line of document.querySelectorAll("[data-live-unread-text]")) {
    line.textContent = unread ? `${unread} unread` : "You are all caught up.";
  }
  if (unread > previous) {
    badge.classList.remove("bump");
    void badge.offsetWidth; // restart the animation
    badge.classList.add("bump");
  }
}

function safeLocalUrl(url) {
  // Notifications only lead to paths on this site; anything else is not linked.
  return typeof url === "string" && url.startsWith("/") && !url.startsWith("//") ? url : null;
}

function showToast(notification) {
  const container = document.getElementById("toasts");
  if (!container || !notification) return;
  // Built with DOM APIs and textContent: nothing from the event is parsed as HTML.
  const toast = document.createElement("div");
  toast.className = "toast";
  toast.setAttribute("role", "status");
  toast.setAttribute("aria-live", "polite");
  toast.setAttribute("aria-atomic", "true");
  toast.dataset.notificationId = String(notification.id);

  const header = document.createElement("div");
  header.className = "toast-header";
  const icon = document.createElement("i");
  icon.className = "bi bi-bell-fill text-primary me-2";
  icon.setAttribute("aria-hidden", "true");
  const title = document.createElement("strong");
  title.className = "me-auto text-truncate";
  title.textContent = notification.title || "New notification";
  const when = document.createElement("small");
  when.className = "text-body-secondary ms-2";
  when.textContent = "just now";
  const close = document.createElement("button");
  close.type = "button";
  close.className = "btn-close";
  close.setAttribute("data-bs-dismiss", "toast");
  close.setAttribute("aria-label", "Close");
  header.append(icon, title, when, close);

  const body = document.createElement("div");
  body.className = "toast-body";
  if (notification.body) {
    const text = document.createElement("div");
    text.className = "text-break";
    text.textContent = notification.body;
    body.append(text);
  }
  const link = document.createElement("a");
  link.className = "btn btn-sm btn-primary mt-2";
  // Opening goes through the site so the notification is marked read on the way.
  link.href = safeLocalUrl(notification.url) ? `/notifications/${encodeURIComponent(notification.id)}/open/` : "/notifications/";
  link.textContent = notification.url ? "Open" : "See notifications";
  body.append(link);

  toast.append(header, body);
  container.append(toast);
  const Toast = window.bootstrap && window.bootstrap.Toast;
  if (Toast) {
    toast.addEventListener("hidden.bs.toast", () => toast.remove());
    Toast.getOrCreateInstance(toast, { delay: 8000 }).show();
  } else {
    toast.classList.add("show");
    setTimeout(() => toast.remove(), 8000);
  }
}

function clearTimers() {
  clearTimeout(pingTimer);
  clearTimeout(pongTimer);
  pingTimer = null;
  pongTimer = null;
}

function scheduleHeartbeat() {
  clearTimers();
  pingTimer = setTimeout(() => {
    if (!send({ type: FRAME.PING })) return;
    pongTimer = setTimeout(() => {
      // No pong in time: the connection is dead even if the browser has not noticed.
      if (socket) socket.close(4000, "heartbeat timeout");
    }, PONG_TIMEOUT_MS);
  }, heartbeatMs);
}

function scheduleReconnect() {
  if (reconnectTimer !== null || signedOut) return;
  const delay = backoffDelay(attempt);
  attempt += 1;
  reconnectTimer = setTimeout(() => {
    reconnectTimer = null;
    connect();
  }, delay);
}

function handleEvent(event) {
  switch (event.type) {
    case "hello":
      attempt = 0;
      if (Number.isFinite(event.heartbeat) && event.heartbeat > 0) heartbeatMs = event.heartbeat * 1000;
      setBadge(event.unread);
      setState("online");
      break;
    case "pong":
      clearTimeout(pongTimer);
      pongTimer = null;
      break;
    case "notification.new":
      setBadge(event.unread);
      showToast(event.notification);
      break;
    case "notification.read":
      setBadge(event.unread);
      break;
    default:
      break;
  }
  document.dispatchEvent(new CustomEvent("live:event", { detail: event }));
  document.dispatchEvent(new CustomEvent(`live:${event.type}`, { detail: event }));
}

function loginUrl() {
  const base = document.getElementById("live-module")?.dataset.loginUrl || "/accounts/login/";
  const here = `${window.location.pathname}${window.location.search}`;
  return `${base}?next=${encodeURIComponent(here)}`;
}

function signIn() {
  // The server ended this session or ticket: reconnecting would only be refused, in a loop.
  signedOut = true;
  clearTimeout(reconnectTimer);
  reconnectTimer = null;
  setState("signed-out");
  document.dispatchEvent(new CustomEvent("live:signed-out"));
  setTimeout(() => window.location.assign(loginUrl()), SIGNED_OUT_GRACE_MS);
}

function connect() {
  if (signedOut) return;
  if (socket && (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING)) return;
  setState("connecting");
  let ws;
  try {
    ws = new WebSocket(socketUrl());
  } catch {
    setState("offline");
    scheduleReconnect();
    return;
  }
  socket = ws;
  ws.addEventListener("message", (message) => {
    if (ws !== socket) return;
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    if (!event || typeof event.type !== "string") return;
    scheduleHeartbeat(); // any traffic proves the line is alive
    handleEvent(event);
  });
  ws.addEventListener("close", (event) => {
    if (ws !== socket) return;
    socket = null;
    clearTimers();
    if (afterClose(event.code) === "sign-in") {
      signIn();
      return;
    }
    setState("offline");
    scheduleReconnect();
  });
  ws.addEventListener("error", () => {
    // "close" follows "error"; closing here makes sure it does.
    if (ws === socket && ws.readyState !== WebSocket.CLOSED) ws.close();
  });
}

/** Send a frame (an object with a "type"). Returns false when the socket is not open. */
export function send(frame) {
  if (!socket || socket.readyState !== WebSocket.OPEN) return false;
  socket.send(JSON.stringify(frame));
  return true;
}

/** "connecting", "online", "offline" or "signed-out". */
export function state() {
  return currentState;
}

// Come back at once when the browser says the network is back or the tab is shown again.
window.addEventListener("online", () => {
  if (!socket) {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    attempt = 0;
    connect();
  }
});
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && !socket && reconnectTimer !== null) {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    connect();
  }
});

connect();
