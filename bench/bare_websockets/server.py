"""The upper limit for bench/chat_load.py: a chat relay in bare asyncio `websockets`, no Django.

    BARE_WS_REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/bare_websockets/server.py 8200

The same wire protocol as the bare Channels chat (bench/bare_chat): a client connects to
`/ws/chat/<room>/`, sends `{"message": "..."}` and receives every message of its room, its
own included, as it was sent. Each process relays what its sockets send through a private
Redis (one PUBLISH per message on `bare-room:<room>`; one pattern subscription per process),
so rooms span processes exactly as they do in the Channels stacks, and hands what arrives to
its own sockets of that room with `websockets.broadcast`. No database, no sessions, no
acks, no capacity limit: what is left is the WebSocket framing, one Redis hop and the event
loop (uvloop when installed, as under uvicorn). `/healthz` answers 200 for the benchmark's
start-up check; the Origin must be this server's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections import defaultdict
from http import HTTPStatus

import redis.asyncio as aioredis
from websockets.asyncio.server import broadcast, serve
from websockets.exceptions import ConnectionClosed

CHANNEL_PREFIX = "bare-room:"


async def main(port: int, redis_url: str) -> None:
    rooms: dict[str, set] = defaultdict(set)  # room -> this process's sockets in it
    publisher = aioredis.from_url(redis_url)
    pubsub = publisher.pubsub()
    await pubsub.psubscribe(CHANNEL_PREFIX + "*")

    async def relay() -> None:
        prefix_length = len(CHANNEL_PREFIX)
        async for message in pubsub.listen():
            if message["type"] != "pmessage":
                continue
            sockets = rooms.get(message["channel"][prefix_length:].decode())
            if sockets:
                broadcast(sockets, message["data"].decode())

    def health(connection, request):
        if request.path == "/healthz":
            return connection.respond(HTTPStatus.OK, "ok\n")
        return None

    async def chat(websocket) -> None:
        room = websocket.request.path.strip("/").rsplit("/", 1)[-1]
        channel = CHANNEL_PREFIX + room
        rooms[room].add(websocket)
        try:
            with contextlib.suppress(ConnectionClosed):
                async for text in websocket:
                    await publisher.publish(channel, text)
        finally:
            rooms[room].discard(websocket)

    relaying = asyncio.create_task(relay())
    async with serve(
        chat,
        "127.0.0.1",
        port,
        process_request=health,
        origins=[f"http://127.0.0.1:{port}", f"http://localhost:{port}"],
        compression=None,
        max_queue=None,
        backlog=1024,
    ) as server:
        await server.serve_forever()
    relaying.cancel()


if __name__ == "__main__":
    try:
        import uvloop

        run = uvloop.run
    except ImportError:
        run = asyncio.run
    run(main(int(sys.argv[1]), os.environ["BARE_WS_REDIS_URL"]))
