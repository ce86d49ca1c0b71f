"""The one live WebSocket per browser tab: /ws/live/.

config.asgi puts the Origin check and authentication (session or single-use ticket) in front
of it, so `scope["user"]` is set. The consumer joins the user's live group, forwards every
event pushed to that group (notifications.realtime.push_to_user), answers heartbeats, and
dispatches client frames by their "type" through FRAME_HANDLERS.

Adding a frame type (chat messages, typing, resync) means registering a handler:

    @frame_handler("message.send")
    async def send_message(consumer: LiveConsumer, frame: dict) -> None:
        ...

Handlers that touch the database wrap that work in `live_db` (live.db: a
`database_sync_to_async` on a fixed pool of threads with kept connections, not asgiref's one
thread per process). No Channels message type of this consumer does database work outside
it, so every one skips Channels' per-message `close_old_connections` thread hop.

Connecting does no database work before the handshake is accepted (a handshake daphne gives
up on cannot cancel a thread's database work, so a burst of connects would pile it up): the
"hello" counts and the presence audience come in ONE database hop after accept.

A socket obeys the end of the session or ticket it was opened with (live.access): a
"live.revoke" message to the user's group that names it closes it with CLOSE_SIGNED_OUT (4401),
and every database hop of a frame (`consumer.db`, never bare live_db) first checks that its
credential still holds, so a socket that missed the message closes instead of answering.
"""

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from chat import realtime as chat_realtime
from chat import selectors as chat_selectors
from chat import services as chat_services
from chat.models import Conversation, Membership
from config import inputs
from config.refusals import Refusal
from live import access as live_access
from live import presence
from live.db import live_db
from live.layer import RESUBSCRIBED
from notifications import realtime
from notifications import selectors as notification_selectors

logger = logging.getLogger(__name__)

MAX_FRAME_CHARS = 64 * 1024
BAD_FRAME_LIMIT = 10  # this many bad frames ...
BAD_FRAME_WINDOW_SECONDS = 30.0  # ... within this window close the socket
CLOSE_TOO_MANY_BAD_FRAMES = 4400
# The input gate's codes as error frames name them (config.inputs).
FRAME_INPUT_CODES = {inputs.TOO_LARGE: "frame_too_large"}

FrameHandler = Callable[["LiveConsumer", dict], Awaitable[None]]
FRAME_HANDLERS: dict[str, FrameHandler] = {}


def frame_handler(frame_type: str) -> Callable[[FrameHandler], FrameHandler]:
    """Register the handler for one client frame type (one handler per type)."""

    def register(handler: FrameHandler) -> FrameHandler:
        if frame_type in FRAME_HANDLERS and FRAME_HANDLERS[frame_type] is not handler:
            raise ValueError(f"A handler for live frame type {frame_type!r} is already registered.")
        FRAME_HANDLERS[frame_type] = handler
        return handler

    return register


class FrameError(Refusal):
    """A client frame we refuse (config.refusals.Refusal); becomes its error frame and counts
    as bad.

    `extra` (e.g. the frame's client_id and conversation) is copied into the error frame so
    the client knows which of its messages was refused."""

    def __init__(self, code: str, detail: str, **extra):
        super().__init__(detail, code=code)
        self.extra = extra

    def frame(self, **extra) -> dict:
        return super().frame(**{**self.extra, **extra})


class SignedOut(Exception):
    """The socket's session or ticket no longer holds (live.access.credential_holds)."""


class OrderedSender:
    """One socket's outgoing ASGI messages, in order. `write_text(text)` is for code that must
    not await (the channel layer's sink): the frame is queued and one task of this socket sends
    the queue through the ASGI `send`. `send(message)` (the consumer's own accept, frames and
    close) first lets that queue go out, so nothing overtakes what was handed over before it."""

    def __init__(self, send):
        self.asgi_send = send
        self.pending: deque[str] = deque()
        self.task: asyncio.Task | None = None

    def write_text(self, text: str) -> None:
        self.pending.append(text)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self.drain())

    async def drain(self) -> None:
        try:
            while self.pending:
                await self.asgi_send({"type": "websocket.send", "text": self.pending.popleft()})
        except Exception:  # the socket is gone: what is left is not for anyone
            logger.info("live socket: frames dropped, the socket is gone", exc_info=True)
            self.pending.clear()
        finally:
            self.task = None

    async def send(self, message: dict) -> None:
        while self.task is not None:
            await asyncio.shield(self.task)
        await self.asgi_send(message)


class LiveConsumer(AsyncJsonWebsocketConsumer):
    # Channels message types handled without the close_old_connections thread hop: their
    # handlers touch the database only through live_db, which manages connections itself.
    NO_DB_MESSAGE_TYPES = frozenset(
        {
            "websocket.connect",
            "websocket.receive",
            "websocket.disconnect",
            realtime.LIVE_EVENT,
            realtime.LIVE_REVOKE,
            RESUBSCRIBED,
        }
    )

    async def dispatch(self, message):
        if message.get("type") in self.NO_DB_MESSAGE_TYPES:
            handler = getattr(self, message["type"].replace(".", "_"))
            await handler(message)
            return
        await super().dispatch(message)

    async def connect(self):
        user = self.scope.get("user")
        credential = self.scope.get(live_access.SCOPE_KEY)
        if (
            user is None
            or not user.is_authenticated
            or not user.is_active
            or credential is None
            or credential.user_id != user.pk
        ):
            await self.close()  # before accept: the handshake is refused with 403
            return
        self.user_id = user.pk
        self.credential: live_access.LiveCredential = credential
        self.credential_checked = time.monotonic()
        self.group_name = realtime.user_group(user.pk)
        self.bad_frames: deque[float] = deque()
        self.closing = False
        self._attach_sink()
        # Join before "hello": no event pushed after hello's counts can be missed. Frames that
        # arrive meanwhile wait (a consumer handles one message at a time); events wait too,
        # held by the sink or in the queue, and follow "hello" in order.
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()
        # Counted as online before "hello": a client that got hello is visible to its friends.
        went_online = await _presence_call(presence.connect, self.user_id, self.channel_name)
        try:  # also checks the credential: a revocation since the handshake missed the group
            unread, chat_unread, friends = await self.db(_hello_counts)(user, went_online)
        except SignedOut:
            await self.sign_out()
            return
        if went_online and friends is not None:
            await _push_presence(self, friends, True)
        await self._hello(unread, chat_unread)
        self._events_after_hello()

    # --- direct delivery -------------------------------------------------------------------
    # With the Redis fan-out layer (live.layer sinks), this socket's live events are
    # handed to it by the layer's reader instead of being queued for this consumer: no
    # per-member queue, consumer wake-up and dispatch, and no wait behind a frame this consumer
    # is still handling. They go out through the socket's OrderedSender (below), on the ASGI
    # send like every other frame, in order with this consumer's own frames. Events that come
    # before "hello" are held and written right after it, in order. With a layer without sinks
    # (the in-memory layer) events take the queue and live_event below.

    def _attach_sink(self) -> None:
        self.write_text = None
        attach = getattr(self.channel_layer, "attach_sink", None)
        if attach is None:
            return
        sender = OrderedSender(self.base_send)
        self.base_send = sender.send  # accept, replies and close queue behind the sink's frames
        self.write_text = sender.write_text
        self.held_events: list[dict] | None = []  # None once "hello" is out
        attach(self.channel_name, self._take_event)

    def _events_after_hello(self) -> None:
        if self.write_text is None:
            return
        held, self.held_events = self.held_events, None
        for message in held or ():
            self._take_event(message)

    def _take_event(self, message: dict) -> bool:
        """The layer's sink: hand one fan-out event to this socket's sender now (on the event
        loop, without awaiting). False sends a message that is not a live event to the queue."""
        if message.get("type") != realtime.LIVE_EVENT:
            return False
        if self.held_events is not None:
            self.held_events.append(message)
            return True
        event = message["event"]
        if self.closing or (event.get("type") == chat_realtime.PRESENCE and not getattr(self, "wants_presence", False)):
            return True
        text = message.get("text")
        self.write_text(text if text is not None else json.dumps(event))
        return True

    async def _hello(self, unread: int, chat_unread: int) -> None:
        await self.send_json(
            {
                "type": "hello",
                "user": chat_realtime.user_ref(self.scope["user"]),
                "unread": unread,
                "chat_unread": chat_unread,
                "heartbeat": settings.LIVE_HEARTBEAT_SECONDS,
            }
        )

    async def live_resubscribed(self, message):
        """This process's channel-layer subscription was down (live.layer): events
        published meanwhile never came. A new "hello" on the same socket makes the client catch
        up from the database, as after a reconnect (resync, unsent messages, counts) — unless
        the socket's credential ended meanwhile (its "live.revoke" may be among what was lost)."""
        if self.closing:
            return
        try:
            unread, chat_unread, _friends = await self.db(_hello_counts)(self.scope["user"], False)
        except SignedOut:
            await self.sign_out()
            return
        await self._hello(unread, chat_unread)

    # --- revocation (live.access) ----------------------------------------------------

    def db(self, function):
        """`live_db(function)` that first checks, in the same database hop, that this socket's
        session or ticket still holds; SignedOut when it does not (the frame is not handled)."""
        credential = self.credential

        def checked(*args, **kwargs):
            if not live_access.credential_holds(credential):
                raise SignedOut
            return function(*args, **kwargs)

        self.credential_checked = time.monotonic()
        return live_db(checked)

    async def live_revoke(self, message):
        """live.access.revoke_live_sockets: close if the revocation names this socket."""
        if self.credential.is_named_by(message.get("target")):
            await self.sign_out()

    async def sign_out(self) -> None:
        """Close with CLOSE_SIGNED_OUT: the client goes to the login page, it does not reconnect."""
        if self.closing:
            return
        self.closing = True  # nothing more is written or handled (see _take_event, receive)
        logger.info("live socket of user %s closed: signed out", self.user_id)
        await self.close(code=live_access.CLOSE_SIGNED_OUT)

    async def disconnect(self, code):
        if getattr(self, "write_text", None) is not None:
            self.channel_layer.detach_sink(self.channel_name)
        group = getattr(self, "group_name", None)
        if group:
            await self.channel_layer.group_discard(group, self.channel_name)
            went_offline = await _presence_call(presence.disconnect, self.user_id, self.channel_name)
            await _presence_changed(self, went_offline, False)

    # --- client frames --------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if self.closing:  # frames still in flight after we closed
            return
        try:
            frame = self._parse(text_data, bytes_data)
            handler = FRAME_HANDLERS.get(frame["type"])
            if handler is None:
                raise FrameError("unknown_type", f"Unknown frame type {frame['type']!r}.")
            await handler(self, frame)
        except FrameError as error:
            await self.reject_frame(error.frame())
        except SignedOut:
            await self.sign_out()

    def _parse(self, text_data, bytes_data) -> dict:
        if text_data is None:
            raise FrameError("binary_frame", "Frames must be JSON text.")
        try:
            frame = inputs.parse_json(text_data, max_chars=MAX_FRAME_CHARS)
        except inputs.InputError as error:
            raise FrameError(FRAME_INPUT_CODES.get(error.code, error.code), error.detail) from None
        if not isinstance(frame, dict):
            raise FrameError("not_an_object", "A frame must be a JSON object.")
        if not isinstance(frame.get("type"), str) or not frame["type"]:
            raise FrameError("missing_type", 'A frame needs a "type" string.')
        return frame

    async def reject_frame(self, frame: dict) -> None:
        """Answer a bad frame with an error frame; close the socket on a flood of them."""
        now = time.monotonic()
        self.bad_frames.append(now)
        while self.bad_frames and now - self.bad_frames[0] > BAD_FRAME_WINDOW_SECONDS:
            self.bad_frames.popleft()
        await self.send_json(frame)
        if len(self.bad_frames) >= BAD_FRAME_LIMIT:
            logger.warning("live socket of user %s closed: %s bad frames", self.user_id, len(self.bad_frames))
            self.closing = True
            await self.close(code=CLOSE_TOO_MANY_BAD_FRAMES)

    # --- events pushed to the user's group -------------------------------------------

    async def live_event(self, message):
        """notifications.realtime.push_to_user: forward the event to the browser as-is.

        "presence" events go only to sockets that asked for presence ("presence.query"): a
        client that does not show presence never gets frames it does not expect."""
        event = message["event"]
        if event.get("type") == chat_realtime.PRESENCE and not getattr(self, "wants_presence", False):
            return
        text = message.get("text")
        if text is None:
            await self.send_json(event)
        else:  # encoded once by the sender for every socket (notifications.realtime.live_event_message)
            await self.send(text_data=text)


# A socket that sends nothing but heartbeats re-checks its credential this often: the last guard
# for a revocation whose message was lost and a write that bypassed accounts.services.
CREDENTIAL_RECHECK_SECONDS = 300.0


def _nothing() -> None:
    return None


@frame_handler("ping")
async def answer_ping(consumer: LiveConsumer, frame: dict) -> None:
    if time.monotonic() - consumer.credential_checked > CREDENTIAL_RECHECK_SECONDS:
        await consumer.db(_nothing)()
    # The heartbeat keeps this socket counted as online (presence entries expire without it);
    # renewed before the pong, so a client that got its pong is counted.
    await _presence_call(presence.heartbeat, consumer.user_id, consumer.channel_name)
    await consumer.send_json({"type": "pong"})


# --- Presence ------------------------------------------------------------------------------------
# Registered per socket in live.presence (Redis across processes, or in-process). Only a change
# (first socket opened, last socket closed) is pushed, and only to the user's friends.


async def _presence_call(function, *args):
    """Presence is a hint: a Redis hiccup must not break the socket."""
    try:
        return await asyncio.to_thread(function, *args)
    except Exception:
        logger.warning("presence update failed", exc_info=True)
        return False


async def _presence_changed(consumer: LiveConsumer, changed: bool, online: bool) -> None:
    if not changed:
        return
    try:
        friends = await live_db(chat_selectors.presence_audience)(user=consumer.scope["user"])
    except Exception:
        logger.warning("presence audience unavailable", exc_info=True)
        return
    await _push_presence(consumer, friends, online)


async def _push_presence(consumer: LiveConsumer, friends, online: bool) -> None:
    await chat_realtime.apush_to_users(
        friends, chat_realtime.presence_event(user=consumer.scope["user"], online=online)
    )


def _hello_counts(user, went_online: bool) -> tuple[int, int, dict | None]:
    """ONE database hop for "hello": unread notifications, unread conversations and, when the
    user just came online, who to tell (None when that lookup failed: presence is a hint)."""
    unread = notification_selectors.unread_count_for_user_id(user_id=user.pk)
    chat_unread = chat_selectors.unread_conversations_count(user=user)
    friends = []
    if went_online:
        try:
            friends = chat_selectors.presence_audience(user=user)
        except Exception:
            logger.warning("presence audience unavailable", exc_info=True)
            friends = None
    return unread, chat_unread, friends


@frame_handler(chat_realtime.FRAME_PRESENCE_QUERY)
async def presence_query(consumer: LiveConsumer, frame: dict) -> None:
    """{"type": "presence.query"} → {"type": "presence.state", "online": [public ids of my friends online]}.

    It also subscribes this socket to "presence" events (friends going online / offline)."""
    consumer.wants_presence = True
    friends = await consumer.db(chat_selectors.presence_audience)(user=consumer.scope["user"])
    online = await _presence_call(presence.online_among, friends) or set()
    await consumer.send_json(chat_realtime.presence_state_event(online_public_ids=[friends[pk] for pk in online]))


@frame_handler(chat_realtime.FRAME_UNREAD_QUERY)
async def unread_query(consumer: LiveConsumer, frame: dict) -> None:
    """{"type": "chat.unread.query"} → {"type": "chat.unread", "count"} (the navbar badge)."""
    count = await consumer.db(chat_selectors.unread_conversations_count)(user=consumer.scope["user"])
    await consumer.send_json(chat_realtime.unread_event(count=count))


# --- Chat frames --------------------------------------------------------------------------------
# The database is the queue: "message.send" stores first (chat.services.send_message pushes
# "message.new" to every member's tabs after commit) and acks the sending socket; "resync"
# answers from the database what a client missed while it was away.

SEND_BURST = 10  # a sender may send this many messages at once ...
SEND_REFILL_PER_SECOND = 2.0  # ... and then 2 a second: 10 messages per 5 s
RESYNC_MAX_CONVERSATIONS = 50
TYPING_MIN_INTERVAL_SECONDS = 3.0


def _conversation_id(frame: dict, **extra) -> int:
    conversation_id = inputs.parse_id(frame.get("conversation"))
    if conversation_id is None:
        raise FrameError("invalid_conversation", '"conversation" must be a conversation id.', **extra)
    return conversation_id


def _take_send_token(consumer: LiveConsumer) -> bool:
    """A token bucket per socket: bursts of SEND_BURST, then SEND_REFILL_PER_SECOND."""
    now = time.monotonic()
    tokens, last = getattr(consumer, "send_bucket", (float(SEND_BURST), now))
    tokens = min(float(SEND_BURST), tokens + (now - last) * SEND_REFILL_PER_SECOND)
    if tokens < 1.0:
        consumer.send_bucket = (tokens, now)
        return False
    consumer.send_bucket = (tokens - 1.0, now)
    return True


def _store_message(user, conversation_id: int, body, client_id, reply_to=None):
    return chat_services.send_message(
        sender=user, conversation_id=conversation_id, body=body, client_id=client_id, reply_to=reply_to
    )


@frame_handler(chat_realtime.FRAME_SEND)
async def send_chat_message(consumer: LiveConsumer, frame: dict) -> None:
    """{"type": "message.send", "conversation", "body", "client_id"[, "reply_to"]} → "message.ack"
    to this socket. `reply_to` names an earlier message of the same conversation; any other id
    is refused with the error code "invalid_reply_to"."""
    client_id = frame.get("client_id") if isinstance(frame.get("client_id"), str) else None
    if client_id is not None and len(client_id) > 64:
        client_id = None
    conversation_id = _conversation_id(frame, client_id=client_id)
    refused = {"client_id": client_id, "conversation": conversation_id}
    if not _take_send_token(consumer):
        # Not a bad frame: a fast typist is not an attacker. Nothing is stored.
        await consumer.send_json(
            {"type": "error", "code": "rate_limited", "detail": "You are sending messages too fast.", **refused}
        )
        return
    try:
        message, _created = await consumer.db(_store_message)(
            consumer.scope["user"], conversation_id, frame.get("body"), frame.get("client_id"), frame.get("reply_to")
        )
    except chat_services.ChatError as error:
        if error.code == "rate_limited":
            await consumer.send_json(error.frame(**refused))
            return
        raise FrameError(error.code, error.message, **refused) from None
    except Conversation.DoesNotExist:
        raise FrameError("not_found", "No such conversation.", **refused) from None
    # The message ends this typing spell: the next "typing" frame goes out at once.
    consumer.__dict__.get("typing_sent", {}).pop(conversation_id, None)
    await consumer.send_json(chat_realtime.message_ack_event(message))


def _resync_batches(user, wanted: dict[int, tuple[int, int | None]]) -> list[dict]:
    frames = []
    for conversation_id, (after_seq, after_change) in wanted.items():
        try:
            messages, more = chat_selectors.messages_since(
                user=user, conversation_id=conversation_id, after_seq=after_seq
            )
            changes = None
            if after_change is not None:
                changes, cursor, changes_more = chat_selectors.changes_since(
                    user=user, conversation_id=conversation_id, after_change=after_change
                )
        except Conversation.DoesNotExist:
            frames.append(
                {
                    "type": "error",
                    "code": "not_found",
                    "detail": "No such conversation.",
                    "conversation": conversation_id,
                }
            )
            continue
        if changes is None:
            frames.append(
                chat_realtime.message_batch_event(conversation_id=conversation_id, messages=messages, more=more)
            )
        else:
            frames.append(
                chat_realtime.message_batch_event(
                    conversation_id=conversation_id,
                    messages=messages,
                    more=more,
                    changes=changes,
                    change_seq=cursor,
                    changes_more=changes_more,
                )
            )
    return frames


def _non_negative(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and 0 <= value < 2**63


@frame_handler(chat_realtime.FRAME_RESYNC)
async def resync(consumer: LiveConsumer, frame: dict) -> None:
    """{"type": "resync", "conversations": {"<id>": <last seq seen>}} → one "message.batch" each.

    A value may also be {"seq": <last seq seen>, "changes": <last change_seq seen>}: the batch
    then also carries the messages edited or deleted since that change cursor."""
    wanted = frame.get("conversations")
    if not isinstance(wanted, dict) or not 0 < len(wanted) <= RESYNC_MAX_CONVERSATIONS:
        raise FrameError(
            "invalid_resync", f'"conversations" must map up to {RESYNC_MAX_CONVERSATIONS} conversation ids to seqs.'
        )
    parsed: dict[int, tuple[int, int | None]] = {}
    for key, value in wanted.items():
        conversation_id = _conversation_id({"conversation": key})
        seq, changes = value, None
        if isinstance(value, dict):
            seq, changes = value.get("seq"), value.get("changes")
            if not _non_negative(changes):
                raise FrameError("invalid_resync", '"changes" must be a non-negative integer.')
        if not _non_negative(seq):
            raise FrameError("invalid_resync", "Each seq must be a non-negative integer.")
        parsed[conversation_id] = (seq, changes)
    for batch in await consumer.db(_resync_batches)(consumer.scope["user"], parsed):
        await consumer.send_json(batch)


@frame_handler(chat_realtime.FRAME_TYPING)
async def typing(consumer: LiveConsumer, frame: dict) -> None:
    """{"type": "typing", "conversation"} → pushed to the other members (not stored, throttled).

    Who gets it is read for every frame that passes the throttle (chat.selectors.typing_audience):
    a member removed from the group, or a block made, counts at once."""
    conversation_id = _conversation_id(frame)
    sent = consumer.__dict__.setdefault("typing_sent", {})
    now = time.monotonic()
    if now - sent.get(conversation_id, -TYPING_MIN_INTERVAL_SECONDS) < TYPING_MIN_INTERVAL_SECONDS:
        return
    try:
        audience = await consumer.db(chat_selectors.typing_audience)(
            user=consumer.scope["user"], conversation_id=conversation_id
        )
    except Conversation.DoesNotExist:
        raise FrameError("not_found", "No such conversation.", conversation=conversation_id) from None
    sent[conversation_id] = now
    await chat_realtime.apush_to_users(
        audience, chat_realtime.typing_event(conversation_id=conversation_id, user=consumer.scope["user"])
    )


@frame_handler(chat_realtime.FRAME_READ)
async def read(consumer: LiveConsumer, frame: dict) -> None:
    """{"type": "read", "conversation", "seq"}: move my read marker (pushed as "read")."""
    conversation_id = _conversation_id(frame)
    seq = frame.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise FrameError("invalid_seq", '"seq" must be a non-negative integer.', conversation=conversation_id)
    try:
        await consumer.db(chat_services.mark_read)(
            user=consumer.scope["user"], conversation_id=conversation_id, seq=seq
        )
    except (Conversation.DoesNotExist, Membership.DoesNotExist):
        raise FrameError("not_found", "No such conversation.", conversation=conversation_id) from None
