"""The one live WebSocket per browser tab: /ws/live/.

live.routing puts the Origin check and authentication (session or single-use ticket, live.auth)
in front of it, so `scope["user"]` is set. The consumer joins the user's live group, forwards
every event pushed to that group (live.push), answers heartbeats, and dispatches client frames
by their "type" through FRAME_HANDLERS. It knows no app: apps register what it serves from their
AppConfig.ready() — frame handlers, the parts and counts of "hello" (register_hello_part,
register_hello_count) and who hears of
presence (live.presence.install_policy).

Adding a frame type (chat messages, typing, resync: chat.frames) means registering a handler:

    @frame_handler("message.send")
    async def send_message(consumer: LiveConsumer, frame: dict) -> None:
        ...

Handlers that touch the database wrap that work in `consumer.db` (live.db: a
`database_sync_to_async` on a fixed pool of threads with kept connections, not asgiref's one
thread per process). No Channels message type of this consumer does database work outside
it, so every one skips Channels' per-message `close_old_connections` thread hop.

Connecting costs two database hops: the handshake's session read (live.auth), then, after
accept, the hello's: the credential check with every "hello" count, the socket counted online
and (when that brought the user online) the presence audience. A handshake that waited longer
than its server keeps it open is refused as busy before accept, without its database work
(live.handshake: the session read checks its age in the pool thread, the consumer again before
accept).

A socket obeys the end of the session or ticket it was opened with (live.access): a
"live.revoke" message to the user's group that names it closes it with CLOSE_SIGNED_OUT (4401),
and every database hop of a frame (`consumer.db` or `consumer.db_batched`, never bare live_db)
first checks that its credential still holds, so a socket that missed the message closes
instead of answering. The check reads only the database (an API login's logout is a row,
live.models.RevokedLogin), so a Redis outage neither stops it nor makes it forget a logout.
"""

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db.models import Func, IntegerField, QuerySet, Subquery

from config import inputs, redis_client
from config.refusals import Refusal
from live import access, handshake, presence, push
from live.db import Batched, live_db
from live.layer import RESUBSCRIBED

logger = logging.getLogger(__name__)

MAX_FRAME_CHARS = 64 * 1024
# The ASGI servers' limit on one incoming WebSocket message, in bytes (deploy/uvicorn-serve's
# --ws-max-size for uvicorn, systemd's and the image's; --websocket-max-message-size/-frame-size
# for daphne's unit):
# just above MAX_FRAME_CHARS, so the largest real frame (a 4,000-character body, even escaped)
# reaches the consumer, which refuses one over MAX_FRAME_CHARS with an error frame, while a
# larger one is refused by the server (close 1009) before it is buffered.
SERVER_MAX_MESSAGE_BYTES = MAX_FRAME_CHARS + 1024
BAD_FRAME_LIMIT = 10  # this many bad frames ...
BAD_FRAME_WINDOW_SECONDS = 30.0  # ... within this window close the socket
CLOSE_TOO_MANY_BAD_FRAMES = 4400
# A socket the live layer could not join (its Redis did not answer in time), or whose handshake
# waited too long for its database work, is refused as busy (live.handshake.refuse_busy).
CLOSE_TRY_AGAIN_LATER = handshake.CLOSE_TRY_AGAIN_LATER
BUSY_RETRY_AFTER = handshake.BUSY_RETRY_AFTER
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
    the client knows which of its messages was refused; `field` names the frame's input that
    was refused, when one was."""

    def __init__(self, code: str, detail: str, *, field: str | None = None, **extra):
        super().__init__(detail, code=code, field=field)
        self.extra = extra

    def frame(self, **extra) -> dict:
        return super().frame(**{**self.extra, **extra})


class SignedOut(Exception):
    """The socket's session or ticket no longer holds (live.access.credential_holds)."""


def credential_checked_batch(function: Callable[[list], list]) -> Callable[[list], list]:
    """For live.db.Batched behind `consumer.db_batched`: each (credential, item) whose
    credential still holds goes to `function`; the others are answered SignedOut."""

    def checked(entries: list) -> list:
        results: list = [SignedOut() for _entry in entries]
        holding = []
        for index, (credential, _item) in enumerate(entries):
            try:
                if access.credential_holds(credential):
                    holding.append(index)
            except Exception as exc:  # noqa: BLE001 - this socket's failure, not the others'
                results[index] = exc
        if holding:
            answers = function([entries[index][1] for index in holding])
            for index, answer in zip(holding, answers, strict=True):
                results[index] = answer
        return results

    return checked


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
            push.LIVE_EVENT,
            access.LIVE_REVOKE,
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
        credential = self.scope.get(access.SCOPE_KEY)
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
        self.credential: access.LiveCredential = credential
        self.credential_checked = time.monotonic()
        self.group_name = push.user_group(user.pk)
        self.bad_frames: deque[float] = deque()
        self.closing = False
        self._attach_sink()
        # Join before "hello": no event pushed after hello's counts can be missed. Frames that
        # arrive meanwhile wait (a consumer handles one message at a time); events wait too,
        # held by the sink or in the queue, and follow "hello" in order.
        try:
            await self.channel_layer.group_add(self.group_name, self.channel_name)
        except redis_client.UNAVAILABLE as exc:
            self.group_name = None  # disconnect: no group to leave, no presence to end
            await self._refuse_busy(exc)
            return
        # The join can wait for Redis: a handshake that aged past its budget meanwhile is not
        # accepted (its server gives up on it soon; live.handshake).
        if handshake.expired(self.scope):
            await self._refuse_busy(handshake.expired_reason(self.scope))
            return
        # Accepted before the hello's hop: the handshake completes after ONE wait for the live
        # pool (the session read), not two.
        await self.accept()
        # The hello's one hop also counts the socket online: before its audience is told and
        # before hello.
        self.counted_online = True  # disconnect ends it, unless the hop says it never began
        try:  # also checks the credential: a revocation since the handshake missed the group
            parts, went_online, audience = await self._load_hello(connecting=True)
        except SignedOut:
            self.counted_online = False
            await self.sign_out()
            return
        if went_online and audience is not None:
            await _push_presence(self, audience, True)
        await self._hello(parts)
        self._events_after_hello()

    async def _refuse_busy(self, reason) -> None:
        """Refuse the handshake as a busy server (live.handshake.refuse_busy): the layer could not
        join the socket's group (Redis down, or this process's loop too busy to hear its answer
        within live.layer.SUBSCRIBE_TIMEOUT), or the handshake waited past its budget. The
        client retries with its backoff. The channel's groups and sink go when the consumer
        ends (disconnect, live.layer's drop_channel); nothing else was started."""
        await handshake.refuse_busy(self.scope, self.base_send, user_id=self.user_id, reason=reason)

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
        if message.get("type") != push.LIVE_EVENT:
            return False
        if self.held_events is not None:
            self.held_events.append(message)
            return True
        event = message["event"]
        if self.closing or (event.get("type") == presence.PRESENCE and not getattr(self, "wants_presence", False)):
            return True
        text = message.get("text")
        self.write_text(text if text is not None else json.dumps(event))
        return True

    async def _load_hello(self, *, connecting: bool) -> tuple[dict, bool, dict | None]:
        """The hello's ONE hop on the live pool (_hello_hop): SignedOut when the credential no
        longer holds. Connecting, it registers the socket's presence too."""
        self.credential_checked = time.monotonic()
        channel = self.channel_name if connecting else None
        return await live_db(_hello_hop)(self.credential, self.scope["user"], presence_channel=channel)

    async def _hello(self, parts: dict) -> None:
        await self.send_json({"type": "hello", **parts, "heartbeat": settings.LIVE_HEARTBEAT_SECONDS})

    async def live_resubscribed(self, message):
        """This process's channel-layer subscription was down (live.layer): events
        published meanwhile never came. A new "hello" on the same socket makes the client catch
        up from the database, as after a reconnect (resync, unsent messages, counts) — unless
        the socket's credential ended meanwhile (its "live.revoke" may be among what was lost)."""
        if self.closing:
            return
        try:
            parts, _went_online, _audience = await self._load_hello(connecting=False)
        except SignedOut:
            await self.sign_out()
            return
        await self._hello(parts)

    # --- revocation (live.access) ----------------------------------------------------

    def db(self, function):
        """`live_db(function)` that first checks, in the same database hop, that this socket's
        session or ticket still holds; SignedOut when it does not (the frame is not handled)."""
        credential = self.credential

        def checked(*args, **kwargs):
            if not access.credential_holds(credential):
                raise SignedOut
            return function(*args, **kwargs)

        self.credential_checked = time.monotonic()
        return live_db(checked)

    async def db_batched(self, batched: Batched, item):
        """`consumer.db` for a call that may share its pool hop with other sockets' calls
        (live.db.Batched, made with `credential_checked_batch`): this socket's credential is
        checked in that hop, before its item is handled; SignedOut when it does not hold."""
        self.credential_checked = time.monotonic()
        return await batched((self.credential, item))

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
        await self.close(code=access.CLOSE_SIGNED_OUT)

    async def disconnect(self, code):
        if getattr(self, "write_text", None) is not None:
            self.channel_layer.detach_sink(self.channel_name)
        group = getattr(self, "group_name", None)
        if group:
            await self.channel_layer.group_discard(group, self.channel_name)
        if getattr(self, "counted_online", False):
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
        """live.push: forward the event to the browser as-is.

        "presence" events go only to sockets that asked for presence ("presence.query"): a
        client that does not show presence never gets frames it does not expect."""
        event = message["event"]
        if event.get("type") == presence.PRESENCE and not getattr(self, "wants_presence", False):
            return
        text = message.get("text")
        if text is None:
            await self.send_json(event)
        else:  # encoded once by the sender for every socket (live.push.live_event_message)
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
    # renewed before the pong, so a client that got its pong is counted. A socket whose entry
    # had expired registers again, and its audience hears the user came online if they had not.
    came_online = await _presence_call(presence.heartbeat, consumer.user_id, consumer.channel_name)
    await consumer.send_json({"type": "pong"})
    await _presence_changed(consumer, came_online, True)


# --- "hello" -------------------------------------------------------------------------------------
# Apps add to "hello" with register_hello_part (values computed per socket, e.g. who it is) and
# register_hello_count (a count). The whole hello is ONE hop on the live pool, after the socket
# joined its group (an event pushed after the counts were read cannot be missed): ONE statement for
# the credential check and every count (built once per process, see
# live.access.read_if_credential_holds), then, connecting, the socket's presence and (when the user
# just came online) the presence audience.

HelloPart = Callable[[object], dict]
HelloCount = Callable[[object], QuerySet]
HELLO_PARTS: list[HelloPart] = []
HELLO_COUNTS: dict[str, HelloCount] = {}


def register_hello_part(part: HelloPart) -> HelloPart:
    """Add `part(user) -> dict` to every "hello" (an app's ready()); the same part once. Its
    values are sent as they are: a part does no database work (a count is register_hello_count)."""
    if part not in HELLO_PARTS:
        HELLO_PARTS.append(part)
    return part


def register_hello_count(name: str, count_for: HelloCount) -> HelloCount:
    """Add `name`: the row count of `count_for(user)` (a QuerySet) to every "hello" (an app's
    ready()), read as a subquery of the hello's one statement (a count costs no round trip of its
    own). The statement is built once per process, with `count_for` called for a stand-in user
    that has only its pk: the queryset may depend on the user only through `user.pk`
    (filter(user=user), user_id=user.pk). It is built once here too, so a `count_for` that
    returns no QuerySet is refused now (TypeError), not at the first hello."""
    access.integer_expressions(lambda user: {name: _count_of(count_for(user))})
    HELLO_COUNTS[name] = count_for
    return count_for


def _count_of(queryset: QuerySet) -> Subquery:
    if not isinstance(queryset, QuerySet):
        raise TypeError(f"a hello count is the row count of a QuerySet, not of {type(queryset).__name__}")
    return Subquery(queryset.order_by().values(hello_count=Func(template="COUNT(*)", output_field=IntegerField())))


def _hello_counts(user) -> dict:
    return {name: _count_of(count_for(user)) for name, count_for in HELLO_COUNTS.items()}


def _hello_hop(
    credential: access.LiveCredential, user, *, presence_channel: str | None = None
) -> tuple[dict, bool, dict | None]:
    """On the live pool: the credential check and every count in one statement (SignedOut when
    the credential no longer holds); with `presence_channel` (a connect), then the socket
    counted online (live.presence.connect, a Redis pipeline) and, when that brought the user
    online, who to tell. Returns the hello's parts, whether the user came online, and the
    audience (None when that lookup failed: presence is a hint)."""
    parts: dict = {}
    for part in HELLO_PARTS:
        parts.update(part(user))
    read = access.read_if_credential_holds(credential, _hello_counts, key=tuple(HELLO_COUNTS.items()))
    if read is None:
        raise SignedOut
    parts.update(read)
    went_online = False
    if presence_channel is not None:
        went_online = _presence_or_false(presence.connect, user.pk, presence_channel)
    audience: dict | None = {}
    if went_online:
        try:
            audience = presence.policy().audience(user=user)
        except Exception:
            logger.warning("presence audience unavailable", exc_info=True)
            audience = None
    return parts, went_online, audience


# --- Presence ------------------------------------------------------------------------------------
# Registered per socket in live.presence (Redis across processes, or in-process). Only a change
# (first socket opened, last socket closed) is pushed, and only to the audience the installed
# presence policy names (live.presence.install_policy).


def _presence_or_false(function, *args):
    """Presence is a hint: a Redis hiccup must not break the socket."""
    try:
        return function(*args)
    except Exception as exc:  # noqa: BLE001
        redis_client.log_failure(logger, exc, "presence update failed")
        return False


async def _presence_call(function, *args):
    """_presence_or_false in a thread of its own (the Redis round trip does not block the loop)."""
    return await asyncio.to_thread(_presence_or_false, function, *args)


async def _presence_changed(consumer: LiveConsumer, changed: bool, online: bool) -> None:
    if not changed:
        return
    try:
        audience = await live_db(presence.policy().audience)(user=consumer.scope["user"])
    except Exception:
        logger.warning("presence audience unavailable", exc_info=True)
        return
    await _push_presence(consumer, audience, online)


async def _push_presence(consumer: LiveConsumer, audience, online: bool) -> None:
    await push.apush_to_users(audience, presence.policy().event(user=consumer.scope["user"], online=online))


@frame_handler(presence.FRAME_PRESENCE_QUERY)
async def presence_query(consumer: LiveConsumer, frame: dict) -> None:
    """{"type": "presence.query"} → {"type": "presence.state", "online": [public ids of my audience online]}.

    It also subscribes this socket to "presence" events (its audience going online / offline)."""
    consumer.wants_presence = True
    audience = await consumer.db(presence.policy().audience)(user=consumer.scope["user"])
    online = await _presence_call(presence.online_among, audience) or set()
    await consumer.send_json(presence.presence_state_event(online_public_ids=[audience[pk] for pk in online]))
