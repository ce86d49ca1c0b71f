"""CPU per received small text frame for chat_load's generator client and candidates.

One server process (websockets asyncio server) pushes ~300-byte JSON text frames to N clients in
one client process; the client process reads them (and json.loads each, as chat_load's _read does)
and reports time.process_time() of that process per frame received.

    .venv/bin/python bench/client_frame_cost.py --clients 200 --frames 200

2026-12-03, 200 clients x 200 frames, 2 rounds (us CPU per frame): websockets max_queue=None
(chat_load) 41.7/33.6, websockets default max_queue 33.4/36.2, aiohttp 3.14.5 28.9/29.2.
aiohttp is 1.15-1.4x cheaper, short of the 1.5x that would justify switching chat_load's client.
Each client runs on asyncio's loop and on uvloop (chat_load --generator-loop); the same day,
with a CI run on the machine: chat_load's client 44.2/32.7 on asyncio, 31.0/30.6 on uvloop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import time

FRAME = json.dumps(
    {
        "type": "message.new",
        "message": {
            "id": 123456,
            "client_id": "s03-42-000017",
            "room": "general",
            "author": {"id": 42, "name": "Ada Lovelace"},
            "body": "x" * 120,
            "created": "2026-12-03T21:30:00.000000+00:00",
        },
    }
)


def _serve(port: int, clients: int, frames: int, ready) -> None:
    from websockets.asyncio.server import broadcast, serve

    async def main() -> None:
        conns: set = set()
        all_in = asyncio.Event()

        async def handler(ws) -> None:
            conns.add(ws)
            if len(conns) == clients:
                all_in.set()
            await ws.wait_closed()

        async with serve(handler, "127.0.0.1", port, compression=None, ping_interval=None, max_queue=None):
            ready.set()
            while True:
                all_in.clear()
                await all_in.wait()
                await asyncio.sleep(0.5)
                for _ in range(frames):
                    broadcast(conns, FRAME)
                    await asyncio.sleep(0.005)
                await asyncio.sleep(0.5)
                for ws in list(conns):
                    await ws.close()
                conns.clear()

    asyncio.run(main())


async def _websockets(url: str, clients: int, frames: int, **kw) -> float:
    from websockets.asyncio.client import connect

    count = 0

    async def one(ws) -> None:
        nonlocal count
        loads = json.loads
        async for raw in ws:
            loads(raw)
            count += 1

    socks = [
        await connect(url, compression=None, proxy=None, ping_interval=None, max_size=2**20, **kw)
        for _ in range(clients)
    ]
    t0 = time.process_time()
    await asyncio.gather(*(one(ws) for ws in socks))
    return (time.process_time() - t0) / max(count, 1) * 1e6, count


async def _aiohttp(url: str, clients: int, frames: int) -> float:
    import aiohttp

    count = 0

    async def one(ws) -> None:
        nonlocal count
        loads = json.loads
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                loads(msg.data)
                count += 1

    # limit=0: the default connector holds 100 connections at most, and a WebSocket keeps its slot.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        socks = [
            await session.ws_connect(url, compress=0, autoping=True, heartbeat=None, max_msg_size=2**20)
            for _ in range(clients)
        ]
        t0 = time.process_time()
        await asyncio.gather(*(one(ws) for ws in socks))
        return (time.process_time() - t0) / max(count, 1) * 1e6, count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--port", type=int, default=18765)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=_serve, args=(args.port, args.clients, args.frames, ready), daemon=True)
    server.start()
    ready.wait(10)
    url = f"ws://127.0.0.1:{args.port}/"
    candidates = {
        "websockets max_queue=None (chat_load today)": lambda: _websockets(
            url, args.clients, args.frames, max_queue=None
        ),
        "websockets max_queue=16 (default)": lambda: _websockets(url, args.clients, args.frames),
    }
    try:
        import aiohttp  # noqa: F401  (not a requirement: `.venv/bin/pip install aiohttp` to compare)

        candidates["aiohttp ws_connect"] = lambda: _aiohttp(url, args.clients, args.frames)
    except ImportError:
        print("aiohttp not installed: skipped")
    import uvloop  # a dependency of the project (uvicorn's loop); chat_load --generator-loop uvloop

    loops = {"asyncio": None, "uvloop": uvloop.new_event_loop}
    for _ in range(args.repeat):
        for name, run in candidates.items():
            for loop_name, loop_factory in loops.items():
                us, count = asyncio.run(run(), loop_factory=loop_factory)
                print(f"{name + ', ' + loop_name:55s} {us:7.1f} us CPU/frame  ({count} frames)", flush=True)
    server.terminate()


if __name__ == "__main__":
    main()
