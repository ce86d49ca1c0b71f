"""The one live WebSocket per browser tab: /ws/live/.

config.asgi puts the Origin check and authentication (session or single-use ticket) in front
of it, so `scope["user"]` is set. The consumer joins the user's live group, forwards every
event pushed to that group (notifications.realtime.push_to_user), answers heartbeats, and
dispatches client frames by their "type" through FRAME_HANDLERS.

Adding a frame type (chat messages, typing, resync) means registering a handler:

    @frame_handler("message.send")
    async def send_message(consumer: LiveConsumer, frame: dict) -> None:
        ...

Handlers that touch the database wrap that work in `database_sync_to_async` (which manages
connections itself). The per-event path — group events and pings — does no database work and
skips Channels' per-message `close_old_connections` thread hop.
"""

import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from notifications import realtime
from notifications import selectors as notification_selectors

logger = logging.getLogger(__name__)

MAX_FRAME_CHARS = 64 * 1024
BAD_FRAME_LIMIT = 10  # this many bad frames ...
BAD_FRAME_WINDOW_SECONDS = 30.0  # ... within this window close the socket
CLOSE_TOO_MANY_BAD_FRAMES = 4400

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


class FrameError(Exception):
    """A client frame we refuse; becomes an {"type": "error"} frame and counts as bad."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


class LiveConsumer(AsyncJsonWebsocketConsumer):
    # Channels message types handled without the close_old_connections thread hop: they
    # never touch the database (handlers that do, use database_sync_to_async).
    NO_DB_MESSAGE_TYPES = frozenset({"websocket.receive", realtime.LIVE_EVENT})

    async def dispatch(self, message):
        if message.get("type") in self.NO_DB_MESSAGE_TYPES:
            handler = getattr(self, message["type"].replace(".", "_"))
            await handler(message)
            return
        await super().dispatch(message)

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close()  # before accept: the handshake is refused with 403
            return
        self.user_id = user.pk
        self.group_name = realtime.user_group(user.pk)
        self.bad_frames: deque[float] = deque()
        self.closing = False
        # Join first, accept last: no event pushed after accept can be missed.
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        unread = await database_sync_to_async(notification_selectors.unread_count_for_user_id)(user_id=user.pk)
        await self.accept()
        await self.send_json(
            {"type": "hello", "user": user.pk, "unread": unread, "heartbeat": settings.LIVE_HEARTBEAT_SECONDS}
        )

    async def disconnect(self, code):
        group = getattr(self, "group_name", None)
        if group:
            await self.channel_layer.group_discard(group, self.channel_name)

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
            await self.reject_frame(error.code, error.detail)

    def _parse(self, text_data, bytes_data) -> dict:
        if text_data is None:
            raise FrameError("binary_frame", "Frames must be JSON text.")
        if len(text_data) > MAX_FRAME_CHARS:
            raise FrameError("frame_too_large", f"Frames are limited to {MAX_FRAME_CHARS} characters.")
        try:
            frame = json.loads(text_data)
        except ValueError:
            raise FrameError("malformed_json", "The frame is not valid JSON.") from None
        if not isinstance(frame, dict):
            raise FrameError("not_an_object", "A frame must be a JSON object.")
        if not isinstance(frame.get("type"), str) or not frame["type"]:
            raise FrameError("missing_type", 'A frame needs a "type" string.')
        return frame

    async def reject_frame(self, code: str, detail: str) -> None:
        """Answer a bad frame with an error frame; close the socket on a flood of them."""
        now = time.monotonic()
        self.bad_frames.append(now)
        while self.bad_frames and now - self.bad_frames[0] > BAD_FRAME_WINDOW_SECONDS:
            self.bad_frames.popleft()
        await self.send_json({"type": "error", "code": code, "detail": detail})
        if len(self.bad_frames) >= BAD_FRAME_LIMIT:
            logger.warning("live socket of user %s closed: %s bad frames", self.user_id, len(self.bad_frames))
            self.closing = True
            await self.close(code=CLOSE_TOO_MANY_BAD_FRAMES)

    # --- events pushed to the user's group -------------------------------------------

    async def live_event(self, message):
        """notifications.realtime.push_to_user: forward the event to the browser as-is."""
        await self.send_json(message["event"])


@frame_handler("ping")
async def answer_ping(consumer: LiveConsumer, frame: dict) -> None:
    await consumer.send_json({"type": "pong"})
