"""Chat load benchmark: 1,000 live sockets, open-loop steps of messages/s, Lyceum vs a bare Channels chat.

    .venv/bin/python bench/chat_load.py                 # full run (Lyceum and the bare chat on daphne, ~15 min)
    .venv/bin/python bench/chat_load.py --quick         # 2 short steps each, a smoke run (~2 min)
    .venv/bin/python bench/chat_load.py --target lyceum --steps 100 --step-seconds 30
    .venv/bin/python bench/chat_load.py --target all --server daphne,uvicorn   # one sitting, 5 targets
    .venv/bin/python bench/chat_load.py --target lyceum --server uvicorn --users 10000 --generators 4 \
        --steps 50,100 --step-seconds 20                # 10,000 sockets (docs/benchmarks.md)

Targets (`--target`, in order): `lyceum`, `bare` (the Channels tutorial chat) and `websockets`
(bench/bare_websockets: bare asyncio websockets relaying through Redis, no Django: the upper
limit). `--server daphne,uvicorn` runs each Channels target once per ASGI server (uvicorn as
deploy/systemd/lyceum-uvicorn@.service runs it; `uvicorn-sansio` is the same with
`--ws websockets-sansio`), always with `--processes` processes. The machine's load average is
printed at the start, after every step and at the end: on a shared machine, compare targets of
one sitting, and their server CPU per delivery, rather than absolute latencies.

What it does, all on the loopback interface:

1. Lyceum, the full stack: creates (once) and migrates the MariaDB database
   `lyceum_bench_load` (`--database-url`), and builds in bulk, directly in the database, 1,000
   users (unusable passwords: they never log in by form), their conversations (half of the users
   in 1-on-1 pairs, 40% in groups of 10, 10% in groups of 50; every member accepted) and one
   session row per user — the same rows a browser login leaves. Old bench messages are deleted
   first. Starts a private redis-server on a free port (`REDIS_URL`: channel layer, cache and
   Celery broker) and `--processes` server processes (2 by default) on free ports, with
   DJANGO_DEBUG=false. User i connects to process i % processes, so conversations span processes.
   Each Lyceum target starts from empty conversations.
2. The bare chat (`bench/bare_chat/`, the Channels tutorial's consumer, default Redis layer, no
   database): its own private redis-server and the SAME number of server processes, the users
   spread over them the same way, one room per conversation: a fair peer.
3. The load generator: `--generators` separate processes (asyncio + `websockets`), each owning
   an equal share of the sockets. They connect all sockets at once (a burst, as after a deploy;
   a refused or timed-out handshake is retried with live.js's backoff, 1 s to 30 s with jitter,
   for `--burst-seconds`); how many were connected within 10 s and when the last one was is
   printed, and for Lyceum when the last "hello" (the socket is usable) arrived. Sockets the
   burst left out are then connected 16 at a time, so the steps run with all of them. Then steps
   of 25, 50, 100, 150, 200… messages/s overall: open loop (a scheduler sends at the set rate
   whatever the server answers; a send never waits for an ack), every user sending at the same
   rate (round robin over all users), each step `--step-seconds` long, then a drain for
   deliveries still in flight (until all arrived, none arrived for `--drain-idle` s, or
   `--drain-seconds`). A step breaks when p99 > 1 s or any delivery is lost; a target's run
   stops `--after-break` steps after its first broken step, or when `--max-seconds` is spent.
   Lyceum's clients keep live.js's heartbeat from their hello on: a ping once the hello's
   `heartbeat` seconds (25) pass without a frame, the first at a random phase so a burst's
   sockets do not ping in step: at rest, one ping per socket every 25 s, the presence refresh
   a real sitting carries (`--no-heartbeats` leaves it out). Pings, pongs and pongs later than
   live.js waits (10 s) are counted after the idle measurement and per step.

Per step: latency from the send to each recipient's socket (every member but the sender) —
p50/p95/p99/max, deliveries lost (never arrived before the drain ended) and duplicated, the
deliveries per second, the achieved send rate, Lyceum's acks and error frames, and CPU (% of one
core over the send window) and memory (RSS) of every process: daphnes, redis-servers, MariaDB
(shared with whatever else runs on the machine), the generators; plus the machine's total CPU.

After the burst, once every socket is connected and idle for `--idle-seconds`: each process's
memory per socket (a server's RSS growth since before the burst over its own sockets; Redis's RSS
and used_memory and MariaDB's RSS over all of them), and the CPU seconds each process spent on
the connects. `--profile-server` runs Lyceum's servers under bench/serve_instrumented.py and
prints the top functions of the connect burst and of the steps' send windows, with the garbage
collector's pauses; `--trace-memory` prints the top allocation sites per socket (tracemalloc
from the burst to the idle measurement). Both slow the servers: take the figures from a run
without them. The open-files limit is raised to the hard limit for every process it starts.

`--redis-outage AT,SECONDS` SIGKILLs the target's Redis AT s into the first step and starts it
again, empty, SECONDS later; with it (or `--catch-up`) Lyceum's clients catch up as
static/js/chat does (resync on a gap and after a later hello, unacked sends again, reconnect),
and the step prints what the views showed of the messages sent before, during and after the
outage, and when they had all caught up (docs/benchmarks.md, "A Redis kill under load").

Timestamps are CLOCK_MONOTONIC, which every process on the machine shares.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import multiprocessing as mp
import os
import random
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from bench_db import ensure_mysql_database, lyceum_env, setup_django

BASE_DIR = Path(__file__).resolve().parent.parent
BARE_DIR = BASE_DIR / "bench" / "bare_chat"
BARE_WS = BASE_DIR / "bench" / "bare_websockets" / "server.py"
INSTRUMENTED = BASE_DIR / "bench" / "serve_instrumented.py"
VENV_BIN = Path(sys.executable).parent
DEFAULT_DATABASE_URL = "mysql://root@127.0.0.1:3306/lyceum_bench_load"
EMAIL_DOMAIN = "bench-load.lyceum.local"
DEFAULT_STEPS = [25, 50, 100, 150, 200, 250, 300, 400, 500, 600, 800, 1000]
BREAK_P99_SECONDS = 1.0
# static/js/live.js: its heartbeat frame, the interval it uses until a hello names one, and how
# long it waits for the pong before it closes the socket.
PING_FRAME = json.dumps({"type": "ping"}, separators=(",", ":"))  # JSON.stringify's bytes
LIVE_JS_HEARTBEAT_SECONDS = 25.0
PONG_TIMEOUT_SECONDS = 10.0
RESYNC_TIMEOUT_SECONDS = 5.0  # static/js/chat/protocol.js's RESYNC_TIMEOUT_MS
# uvicorn as deploy/systemd/lyceum-uvicorn@.service runs it (minus --proxy-headers: no proxy here).
UVICORN_ARGS = [
    "uvicorn",
    "--host",
    "127.0.0.1",
    "--backlog",
    "1024",
    "--loop",
    "uvloop",
    "--http",
    "httptools",
    "--lifespan",
    "off",
    "--no-access-log",
    "--log-level",
    "warning",
]
UVICORN_WS = "websockets"
TARGETS = ("lyceum", "bare", "websockets")
SERVER_COLUMNS = {"daphne", "uvicorn", "ws"}  # the resource columns of the server processes
SERVERS = ("daphne", "uvicorn", "uvicorn-sansio")  # uvicorn-sansio: uvicorn with --ws websockets-sansio


def raise_open_files_limit() -> int:
    """The soft limit on open files raised to the hard one, for this process and the processes
    it starts (they inherit it): every socket is a file descriptor, on both ends. Returns it."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def machine_load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} (1/5/15 min) on {os.cpu_count()} cores"


# --- Conversation layout -------------------------------------------------------------------------


def layout(n_users: int) -> list[list[int]]:
    """Conversations as lists of user indexes: 50% pairs, 40% groups of 10, 10% groups of 50."""
    if n_users % 100:
        raise SystemExit("--users must be a multiple of 100")
    pairs_end, tens_end = n_users // 2, n_users // 2 + n_users * 4 // 10
    conversations = [[i, i + 1] for i in range(0, pairs_end, 2)]
    conversations += [list(range(i, i + 10)) for i in range(pairs_end, tens_end, 10)]
    conversations += [list(range(i, min(i + 50, n_users))) for i in range(tens_end, n_users, 50)]
    return conversations


# --- The load generator (runs in its own processes, no Django) -------------------------------


@dataclass
class Client:
    uid: int  # Lyceum user pk, only in our client_ids (frames name users by public_id); the bare chat's too
    index: int
    conversation: int  # Lyceum conversation id; the bare chat's room is "c<id>"
    url: str
    headers: dict
    ws: object = None
    reader: asyncio.Task | None = None
    ready_at: float | None = None  # Lyceum: when its "hello" arrived (the socket is usable); else = connected
    sent_n: int = 0
    last_frame: float = 0.0  # Lyceum: when the last frame arrived (live.js's heartbeat timer restarts then)
    ping_at: float | None = None  # Lyceum: when the ping still waiting for its pong was sent
    heartbeat: asyncio.Task | None = None
    # --catch-up (Lyceum): the conversation's cursors as static/js/chat/protocol.js keeps them,
    # the sends not acked yet (client_id -> frame), and the hellos since the first.
    sync: ConversationSync | None = None
    unacked: dict = field(default_factory=dict)
    hellos: int = 0


class ConversationSync:
    """static/js/chat/protocol.js's ConversationSync, for one conversation: a message is shown
    once (by id) and in seq order; one after a gap is not shown and asks for a "resync" (one in
    flight at a time: a gap meanwhile only notes the newest seq held back, `behind()` asks again
    after the answer); the answer ("message.batch") is fed in order."""

    def __init__(self, conversation: int):
        self.conversation = conversation
        self.last_seq = 0
        self.known: set[int] = set()
        self.resyncing_since: float | None = None  # when the resync in flight went out
        self.held_seq = 0

    def receive(self, message: dict) -> str:
        if message.get("conversation") != self.conversation:
            return "other"
        if message["id"] in self.known:
            return "known"
        if message["seq"] > self.last_seq + 1:
            if self.resyncing_since is None:
                return "gap"
            self.held_seq = max(self.held_seq, message["seq"])
            return "held"
        self.known.add(message["id"])
        self.last_seq = max(self.last_seq, message["seq"])
        return "new"

    def behind(self) -> bool:
        return self.resyncing_since is None and self.held_seq > self.last_seq

    def resync_frame(self) -> str:
        return json.dumps({"type": "resync", "conversations": {str(self.conversation): self.last_seq}})


@dataclass
class GeneratorState:
    target: str
    clients: list[Client]
    received: dict = field(default_factory=lambda: defaultdict(list))  # step -> [(key, uid, t)]
    acks: dict = field(default_factory=lambda: defaultdict(list))  # step -> [(key, t)]
    errors: Counter = field(default_factory=Counter)
    echoes: Counter = field(default_factory=Counter)
    closed: int = 0
    rr: int = 0
    heartbeats: bool = True
    pings: int = 0
    pongs: int = 0
    late_pongs: int = 0  # after live.js's PONG_TIMEOUT_MS: live.js would have closed the socket
    # --catch-up: clients resync, resend and reconnect as static/js/chat does (_catch_up_frame).
    catch_up: bool = False
    closing: bool = False  # the run is over: a closed socket is not reconnected
    resyncs: int = 0
    redundant: int = 0  # frames of a message already shown (e.g. a push overtaken by a resync's answer)
    resent: int = 0
    reconnects: int = 0
    later_hellos: int = 0


def _step_of(key: str) -> int:
    # "s03-42-000017": the step number is in the client_id, so late arrivals are attributed.
    return int(key[1:3]) if key[:1] == "s" and key[1:3].isdigit() else -1


async def _read(state: GeneratorState, client: Client) -> None:
    loads, monotonic = json.loads, time.monotonic
    lyceum = state.target.startswith("lyceum")
    try:
        async for raw in client.ws:
            now = monotonic()
            frame = loads(raw)
            if lyceum and state.catch_up:
                client.last_frame = now
                _catch_up_frame(state, client, frame, now)
            elif lyceum:
                client.last_frame = now
                kind = frame.get("type")
                if kind == "message.new":
                    _show(state, client, frame["message"], now)
                elif kind == "hello" and client.ready_at is None:
                    client.ready_at = now
                    if state.heartbeats and client.heartbeat is None:
                        client.heartbeat = asyncio.create_task(_heartbeat(state, client, frame.get("heartbeat")))
                elif kind == "pong":
                    _pong(state, client, now)
                elif kind == "message.ack":
                    key = frame.get("client_id") or ""
                    state.acks[_step_of(key)].append((key, now))
                elif kind == "error":
                    state.errors[frame.get("code", "?")] += 1
            else:
                key = frame.get("message", "")
                if key.split("-", 2)[1:2] == [str(client.uid)]:
                    state.echoes[_step_of(key)] += 1
                else:
                    state.received[_step_of(key)].append((key, client.uid, now))
    except Exception as error:
        state.errors[f"reader:{type(error).__name__}"] += 1
    state.closed += 1
    if state.catch_up and not state.closing:  # live.js reconnects (its backoff, in _connect_one)
        client.ws = None
        client.reader = asyncio.create_task(_reconnect(state, client))


def _show(state: GeneratorState, client: Client, message: dict, now: float) -> None:
    """A message the client's view shows now: counted as the sender's echo or a delivery."""
    key = message.get("client_id") or ""
    # Our own echo: the sender's pk is in the client_id (frames carry public ids).
    if key.split("-", 2)[1:2] == [str(client.uid)]:
        state.echoes[_step_of(key)] += 1
    else:
        state.received[_step_of(key)].append((key, client.uid, now))


def _pong(state: GeneratorState, client: Client, now: float) -> None:
    state.pongs += 1
    if client.ping_at is not None and now - client.ping_at > PONG_TIMEOUT_SECONDS:
        state.late_pongs += 1
    client.ping_at = None


def _feed(state: GeneratorState, client: Client, message: dict, now: float) -> None:
    """One stored message from a push, an ack or a resync's answer, as chat.js takes it."""
    outcome = client.sync.receive(message)
    if outcome == "new":
        _show(state, client, message, now)
    elif outcome == "known":
        state.redundant += 1
    elif outcome == "gap":
        _resync(state, client)


def _resync(state: GeneratorState, client: Client) -> None:
    if client.ws is None:
        return
    client.sync.resyncing_since = time.monotonic()
    state.resyncs += 1
    _send_later(client, client.sync.resync_frame())


def _send_later(client: Client, data: str) -> None:
    """Send without waiting (the reader must not block): a socket that closed meanwhile is
    the reader's to report and reconnect."""
    task = asyncio.ensure_future(client.ws.send(data))
    task.add_done_callback(lambda t: t.cancelled() or t.exception())


def _catch_up_frame(state: GeneratorState, client: Client, frame: dict, now: float) -> None:
    """static/js/chat's protocol: pushes and acks are fed to the conversation's cursors; a later
    hello (a reconnect, or live.resubscribed after a Redis outage) resyncs and then sends again
    every message not acked yet, with the same client_id; a resync's answer is fed in order and
    asked again when capped or when something held back during it is still missing."""
    kind = frame.get("type")
    if kind == "message.new":
        _feed(state, client, frame["message"], now)
    elif kind == "message.ack":
        key = frame.get("client_id") or ""
        state.acks[_step_of(key)].append((key, now))
        client.unacked.pop(key, None)
        _feed(state, client, frame["message"], now)
    elif kind == "message.batch":
        if frame.get("conversation") != client.sync.conversation:
            return
        client.sync.resyncing_since = None
        for message in frame.get("messages") or []:
            _feed(state, client, message, now)
        if frame.get("more") or client.sync.behind():
            _resync(state, client)
    elif kind == "hello":
        if client.ready_at is None:
            client.ready_at = now
        else:
            state.later_hellos += 1
        client.hellos += 1
        if state.heartbeats and (client.heartbeat is None or client.heartbeat.done()):
            client.heartbeat = asyncio.create_task(_heartbeat(state, client, frame.get("heartbeat")))
        if client.hellos > 1:
            client.sync.resyncing_since = None  # an answer to the old socket never comes
            _resync(state, client)
            for data in list(client.unacked.values()):
                state.resent += 1
                _send_later(client, data)
    elif kind == "pong":
        _pong(state, client, now)
    elif kind == "error":
        state.errors[frame.get("code", "?")] += 1


async def _reconnect(state: GeneratorState, client: Client) -> None:
    state.reconnects += 1
    await asyncio.sleep(1.0 + random.random())  # live.js: its first reconnect waits 1-2 s
    await _connect_one(state, client, time.monotonic() + 600, Counter())


async def _resync_timeouts(state: GeneratorState) -> None:
    """static/js/chat: a resync unanswered for RESYNC_TIMEOUT_MS is abandoned (and asked again
    when something is still missing)."""
    while True:
        await asyncio.sleep(1.0)
        stale = time.monotonic() - RESYNC_TIMEOUT_SECONDS
        for client in state.clients:
            sync = client.sync
            if sync is not None and sync.resyncing_since is not None and sync.resyncing_since < stale:
                sync.resyncing_since = None
                if sync.behind():
                    _resync(state, client)


async def _heartbeat(state: GeneratorState, client: Client, every) -> None:
    """static/js/live.js's heartbeat: {"type": "ping"} once `every` seconds (the hello's
    "heartbeat") have passed without a frame from the server. The first ping comes at a random
    phase within `every` of the hello, so the sockets of a burst do not ping in step (browsers'
    tabs are spread the same way)."""
    every = float(every) if isinstance(every, int | float) and every > 0 else LIVE_JS_HEARTBEAT_SECONDS
    monotonic = time.monotonic
    due = monotonic() + random.random() * every
    first = True
    while True:
        await asyncio.sleep(max(0.0, due - monotonic()))
        quiet_until = client.last_frame + every
        if not first and quiet_until > monotonic():  # traffic since: live.js restarted its timer
            due = quiet_until
            continue
        first = False
        client.ping_at = monotonic()
        try:
            await client.ws.send(PING_FRAME)
        except Exception:  # the socket closed: its reader counts that
            return
        state.pings += 1
        due = client.ping_at + every


async def _connect_one(state: GeneratorState, client: Client, deadline: float, stats: Counter) -> float | None:
    from websockets.asyncio.client import connect

    attempt = 0
    while True:
        stats["attempts"] += 1
        try:
            client.ws = await connect(
                client.url,
                additional_headers=client.headers,
                compression=None,
                proxy=None,
                open_timeout=15,
                ping_interval=None,
                max_queue=None,
                max_size=2**20,
            )
            connected_at = time.monotonic()
            if not state.target.startswith("lyceum"):
                client.ready_at = connected_at
            client.reader = asyncio.create_task(_read(state, client))
            return connected_at
        except Exception as error:
            status = getattr(getattr(error, "response", None), "status_code", None)
            stats[f"refused:{type(error).__name__}" + (f":{status}" if status else "")] += 1
            # static/js/live.js's backoff: full jitter above a 1 s floor, ceiling 1 s * 2^n up to 30 s.
            delay = 1.0 + random.random() * max(0.0, min(30.0, 2.0**attempt) - 1.0)
            attempt += 1
            if time.monotonic() + delay > deadline:
                return None
            await asyncio.sleep(delay)


async def _connect_all(state: GeneratorState, start: float, deadline: float) -> dict:
    """The burst: every socket at once, each retrying with live.js's backoff until `deadline`."""
    await asyncio.sleep(max(0.0, start - time.monotonic()))
    stats: Counter = Counter()
    times = await asyncio.gather(*(_connect_one(state, c, deadline, stats) for c in state.clients))
    # Lyceum's socket is usable once its "hello" (one database hop after accept) has arrived.
    while any(c.ws is not None and c.ready_at is None for c in state.clients) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return {
        "times": [t - start for t in times if t is not None],
        "connected": [c.index for c in state.clients if c.ws is not None],
        "ready": [c.ready_at - start for c in state.clients if c.ready_at is not None],
        "failed": sum(1 for t in times if t is None),
        "stats": dict(stats),
    }


async def _connect_rest(state: GeneratorState, concurrency: int, deadline: float) -> dict:
    """After a burst that did not connect everyone: the rest, `concurrency` at a time, so the
    load steps can run with every socket (the burst's figures are reported as they were)."""
    start = time.monotonic()
    stats: Counter = Counter()
    gate = asyncio.Semaphore(concurrency)

    async def gated(client: Client):
        async with gate:
            if time.monotonic() > deadline:  # the rest's deadline holds for those still waiting too
                return None
            return await _connect_one(state, client, deadline, stats)

    times = await asyncio.gather(*(gated(c) for c in state.clients if c.ws is None))
    return {
        "times": [t - start for t in times if t is not None],
        "connected": [c.index for c in state.clients if c.ws is not None],
        "failed": sum(1 for t in times if t is None),
        "stats": dict(stats),
    }


async def _run_step(state: GeneratorState, step: int, rate: float, start: float, seconds: float) -> dict:
    """Open loop: send at `rate` from `start` for `seconds`, whatever the server does."""
    monotonic = time.monotonic
    live = [c for c in state.clients if c.ws is not None]
    if not live:  # nothing connected: nothing to send
        await asyncio.sleep(max(0.0, start + seconds - time.monotonic()))
        return {"sent": [], "send_failures": 0}
    order = live[:]
    random.Random(step).shuffle(order)
    sent: list[tuple[str, int, int, float]] = []
    pending: set[asyncio.Task] = set()
    failures = Counter()

    def sent_done(task: asyncio.Task) -> None:
        pending.discard(task)
        if not task.cancelled() and task.exception() is not None:  # e.g. the server closed the socket
            failures[type(task.exception()).__name__] += 1

    lyceum = state.target.startswith("lyceum")
    interval = 1.0 / rate if rate > 0 else seconds
    end = start + seconds
    next_at = start + random.random() * interval
    await asyncio.sleep(max(0.0, start - monotonic()))
    i = state.rr
    while next_at < end:
        now = monotonic()
        while next_at <= now and next_at < end:
            client = order[i % len(order)]
            i += 1
            client.sent_n += 1
            key = f"s{step:02d}-{client.uid}-{client.sent_n:06d}"
            if lyceum:
                body = f"Load test message {client.sent_n} from user {client.uid} ({key})"
                data = json.dumps(
                    {"type": "message.send", "conversation": client.conversation, "body": body, "client_id": key}
                )
            else:
                data = json.dumps({"message": key})
            t = monotonic()
            sent.append((key, client.conversation, client.uid, t))
            next_at += interval
            if state.catch_up:  # chat.js's outbox: sent again after every hello until acked
                client.unacked[key] = data
                if client.ws is None:  # reconnecting: its hello sends it
                    continue
            task = asyncio.ensure_future(client.ws.send(data))
            pending.add(task)
            task.add_done_callback(sent_done)
        await asyncio.sleep(max(0.0, next_at - monotonic()))
    state.rr = i
    if pending:
        await asyncio.wait(pending, timeout=5)
    return {"sent": sent, "send_failures": sum(failures.values())}


async def _drain(state: GeneratorState, step: int, expected: int, until: float, idle: float) -> dict:
    """Wait for the step's deliveries still in flight: until all arrived, none arrived for
    `idle` seconds, or `until`."""
    last_count, last_change = -1, time.monotonic()
    while len(state.received[step]) < expected and time.monotonic() < until:
        if len(state.received[step]) != last_count:
            last_count, last_change = len(state.received[step]), time.monotonic()
        elif time.monotonic() - last_change > idle:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # anything a hair behind the last expected delivery (duplicates)
    received = state.received.pop(step, [])
    acks = state.acks.pop(step, [])
    return {
        "received": received,
        "acks": acks,
        "echoes": state.echoes.pop(step, 0),
        "errors": dict(state.errors),
        "closed": state.closed,
        "late": {s: len(v) for s, v in state.received.items() if 0 <= s < step},
    }


async def _generator(conn, target: str, clients: list[Client], heartbeats: bool, catch_up: bool) -> None:
    state = GeneratorState(target=target, clients=clients, heartbeats=heartbeats)
    loop = asyncio.get_running_loop()
    timeouts = None
    if catch_up and target.startswith("lyceum"):
        state.catch_up = True
        for client in clients:
            client.sync = ConversationSync(client.conversation)
        timeouts = asyncio.create_task(_resync_timeouts(state))
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        name = command["cmd"]
        if name == "connect":
            result = await _connect_all(state, command["start"], command["deadline"])
        elif name == "connect_rest":
            result = await _connect_rest(state, command["concurrency"], command["deadline"])
        elif name == "step":
            result = await _run_step(state, command["step"], command["rate"], command["start"], command["seconds"])
        elif name == "drain":
            result = await _drain(state, command["step"], command["expected"], command["until"], command["idle"])
        elif name == "heartbeats":
            result = {"pings": state.pings, "pongs": state.pongs, "late_pongs": state.late_pongs}
        elif name == "catch_up":
            result = {
                "resyncs": state.resyncs,
                "redundant": state.redundant,
                "resent": state.resent,
                "reconnects": state.reconnects,
                "later_hellos": state.later_hellos,
                "unacked": sum(len(c.unacked) for c in clients),
                "disconnected": sum(1 for c in clients if c.ws is None),
            }
        elif name == "close":
            state.closing = True
            if timeouts is not None:
                timeouts.cancel()
            for c in clients:
                if c.heartbeat is not None:
                    c.heartbeat.cancel()
            await asyncio.gather(*(c.ws.close() for c in clients if c.ws is not None), return_exceptions=True)
            conn.send({"ok": True})
            return
        else:
            result = {"error": f"unknown command {name}"}
        conn.send(result)


def generator_main(
    conn, target: str, clients: list[Client], heartbeats: bool, catch_up: bool = False, loop: str = "asyncio"
) -> None:
    raise_open_files_limit()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    loop_factory = None
    if loop == "uvloop":
        import uvloop

        loop_factory = uvloop.new_event_loop
    asyncio.run(_generator(conn, target, clients, heartbeats, catch_up), loop_factory=loop_factory)


# --- Processes: redis-server, daphne ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Services:
    def __init__(self, logdir: Path):
        self.logdir = logdir
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list[str], *, cwd: Path, env: dict | None = None) -> subprocess.Popen:
        log = open(self.logdir / f"{name}.log", "wb")  # noqa: SIM115 - owned by the process
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes[name] = process
        return process

    def redis(self, name: str) -> str:
        port = free_port()
        self._redis_on(name, port)
        return f"redis://127.0.0.1:{port}/0"

    def _redis_on(self, name: str, port: int) -> float:
        self.start(
            name,
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.logdir,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return time.monotonic()
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not start (see {self.logdir / (name + '.log')})")

    def kill(self, name: str) -> None:
        """SIGKILL a service (kill -9): no shutdown of its own."""
        process = self.processes[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def restart_redis(self, name: str, url: str) -> float:
        """Start the redis-server `name` again, empty, on the port of `url`; the monotonic time
        it answered PING."""
        port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        return self._redis_on(name, port)

    def asgi(
        self,
        name: str,
        server: str,
        application: str,
        *,
        cwd: Path,
        env: dict,
        instrument: bool = False,
        ws: str = "",
        gc_only: bool = False,
    ) -> int:
        """One ASGI server process (daphne or uvicorn) on a free port, as production runs it:
        listen backlog 1024, no access log (daphne's is 3 lines per connection). `instrument`:
        run it under bench/serve_instrumented.py (a CPU profile and an allocation trace switched
        by SIGUSR2 and SIGUSR1, written to the logs directory as `<name>.cpu<k>.prof` and
        `<name>.mem.json`; `gc_only`: its windows record the collector's pauses only)."""
        port = free_port()
        prefix = [sys.executable, str(INSTRUMENTED), "--out", str(self.logdir / name)] if instrument else []
        if instrument:
            prefix += ["--gc-only", "--"] if gc_only else ["--"]
        if server == "daphne":
            argv = [
                str(VENV_BIN / "daphne"),
                "-v",
                "0",
                "-e",
                f"tcp:port={port}:interface=127.0.0.1:backlog=1024",
                application,
            ]
        else:
            ws = "websockets-sansio" if server == "uvicorn-sansio" else ws or UVICORN_WS
            argv = [*UVICORN_ARGS, "--ws", ws, "--port", str(port), application]
            argv[0] = str(VENV_BIN / argv[0])
        return self._serving(name, self.start(name, [*prefix, *argv], cwd=cwd, env=env), port)

    def bare_websockets(self, name: str, redis_url: str) -> int:
        port = free_port()
        env = {**os.environ, "BARE_WS_REDIS_URL": redis_url}
        process = self.start(name, [sys.executable, str(BARE_WS), str(port)], cwd=BASE_DIR, env=env)
        return self._serving(name, process, port)

    def _serving(self, name: str, process: subprocess.Popen, port: int) -> int:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited (see {self.logdir / (name + '.log')})")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return port
            time.sleep(0.2)
        raise RuntimeError(f"{name} did not answer /healthz within 60 s")

    def stop_all(self) -> None:
        # Newest first: the daphnes go before the redis-server they use.
        for process in reversed(self.processes.values()):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()


# --- Lyceum's database: created, migrated and filled in bulk -------------------------------------


def prepare_database(database_url: str, n_users: int, secret_key: str, fresh: bool) -> list[tuple[int, int, str]]:
    """Returns (user id, conversation id, session key) per user index."""
    started = time.monotonic()
    ensure_mysql_database(database_url, fresh=fresh)
    environ = lyceum_env(database_url, "", secret_key)
    environ.pop("REDIS_URL")  # in-memory cache and layer while filling
    os.environ.pop("REDIS_URL", None)
    setup_django(environ=environ)
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import User
    from chat.models import Attachment, Conversation, Membership, Message

    def wipe(model) -> None:
        """Every row of the bench database's table, in one statement (no cascade collection)."""
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")

    users = list(User.objects.filter(email__endswith=f"@{EMAIL_DOMAIN}").order_by("email"))
    conversations = layout(n_users)
    if len(users) != n_users or Membership.objects.filter(user__in=users).count() != n_users:
        with transaction.atomic():
            wipe(Attachment)
            wipe(Message)
            wipe(Membership)
            wipe(Conversation)
            wipe(Session)
            User.objects.filter(email__endswith=f"@{EMAIL_DOMAIN}").delete()
            User.objects.bulk_create(
                (
                    User(
                        email=f"load{i:05d}@{EMAIL_DOMAIN}",
                        first_name=f"Load{i}",
                        last_name="Tester",
                        university="Bench University",
                        course="Load",
                        password=f"!{secrets.token_hex(16)}",  # unusable: they never log in by form
                    )
                    for i in range(n_users)
                ),
                batch_size=2000,
            )
            users = list(User.objects.filter(email__endswith=f"@{EMAIL_DOMAIN}").order_by("email"))
            # In bulk, in layout order: the table was emptied above, so pk order is that order.
            rows = []
            for members in conversations:
                ids = [users[i].pk for i in members]
                if len(members) == 2:
                    rows.append(Conversation(kind="direct", direct_key=f"{min(ids)}:{max(ids)}", created_by_id=ids[0]))
                else:
                    rows.append(Conversation(kind="group", name=f"Load group {members[0]}", created_by_id=ids[0]))
            Conversation.objects.bulk_create(rows, batch_size=2000)
            created = list(Conversation.objects.order_by("pk"))
            Membership.objects.bulk_create(
                (
                    Membership(conversation=conversation, user_id=users[i].pk, role="owner" if j == 0 else "member")
                    for conversation, members in zip(created, conversations, strict=True)
                    for j, i in enumerate(members)
                ),
                batch_size=5000,
            )
    empty_conversations()
    conversation_of = dict(Membership.objects.filter(user__in=users).values_list("user_id", "conversation_id"))
    # One session per user, exactly what django.contrib.auth.login stores.
    store = SessionStore()
    expire = timezone.now() + datetime.timedelta(days=1)
    sessions = []
    keys = []
    for user in users:
        key = secrets.token_hex(16)
        data = {
            "_auth_user_id": str(user.pk),
            "_auth_user_backend": "accounts.backends.EmailBackend",
            "_auth_user_hash": user.get_session_auth_hash(),
        }
        sessions.append(Session(session_key=key, session_data=store.encode(data), expire_date=expire))
        keys.append(key)
    wipe(Session)
    Session.objects.bulk_create(sessions, batch_size=2000)
    print(
        f"database ready in {time.monotonic() - started:.1f} s: {len(users)} users, "
        f"{len(conversations)} conversations, {len(sessions)} sessions",
        flush=True,
    )
    return [(user.pk, conversation_of[user.pk], key) for user, key in zip(users, keys, strict=True)]


def empty_conversations() -> None:
    """Every Lyceum target starts from empty conversations: no messages, seq 0, nothing read
    (a second Lyceum target of the sitting would otherwise find its client_ids stored already,
    and a retried send is acked with the stored message and pushed to no one)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from chat.models import Attachment, Conversation, Membership, Message

    with transaction.atomic(), connection.cursor() as cursor:
        for model in (Attachment, Message):
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")
        Conversation.objects.update(last_seq=0, last_message=None, last_message_at=timezone.now())
        Membership.objects.update(last_read_seq=0, emailed_seq=0, archived=False, muted=False, accepted=True)
    connection.close()


# --- Measuring -----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


class ProcessWatch:
    """CPU (% of one core) and RSS of named processes over a window."""

    def __init__(self, pids: dict[str, int]):
        import psutil

        self.psutil = psutil
        self.processes = {}
        for name, pid in pids.items():
            with contextlib.suppress(psutil.Error):
                self.processes[name] = psutil.Process(pid)
        self.start_times: dict = {}
        self.t0 = 0.0
        self.machine0 = None

    def begin(self) -> None:
        self.t0 = time.monotonic()
        self.machine0 = self.psutil.cpu_times()
        self.start_times = {}
        for name, process in self.processes.items():
            with contextlib.suppress(self.psutil.Error):
                times = process.cpu_times()
                self.start_times[name] = times.user + times.system

    def end_seconds(self) -> dict[str, float]:
        """CPU seconds of each process since begin()."""
        result = {}
        for name, process in self.processes.items():
            with contextlib.suppress(self.psutil.Error):
                times = process.cpu_times()
                result[name] = times.user + times.system - self.start_times.get(name, 0.0)
        return result

    def end(self) -> dict:
        elapsed = time.monotonic() - self.t0
        result = {}
        for name, process in self.processes.items():
            try:
                times = process.cpu_times()
                cpu = (times.user + times.system - self.start_times.get(name, 0.0)) / elapsed * 100
                result[name] = (cpu, process.memory_info().rss / 2**20)
            except self.psutil.Error:
                result[name] = (float("nan"), float("nan"))
        machine1 = self.psutil.cpu_times()
        busy = sum(machine1) - machine1.idle - (sum(self.machine0) - self.machine0.idle)
        total = sum(machine1) - sum(self.machine0)
        result["machine"] = (busy / total * 100 * self.psutil.cpu_count() if total else float("nan"), float("nan"))
        return result


def mariadb_pid() -> int | None:
    import psutil

    for process in psutil.process_iter(["name"]):
        if process.info["name"] in {"mariadbd", "mysqld"}:
            return process.pid
    return None


def redis_used_memory(redis_url: str) -> int | None:
    """Redis's own count of the memory it holds (INFO memory's used_memory), in bytes."""
    host, port = redis_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    with contextlib.suppress(OSError, ValueError), socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"INFO memory\r\n")
        data = b""
        while b"used_memory:" not in data or not data.endswith(b"\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        for line in data.decode().splitlines():
            if line.startswith("used_memory:"):
                return int(line.split(":", 1)[1])
    return None


def memory_of(pids: dict[str, int], redis_url: str) -> dict[str, int]:
    """RSS in bytes of the named processes, and Redis's used_memory as "redis used"."""
    import psutil

    result = {}
    for name, pid in pids.items():
        with contextlib.suppress(psutil.Error):
            result[name] = psutil.Process(pid).memory_info().rss
    used = redis_used_memory(redis_url)
    if used is not None:
        result["redis used"] = used
    return result


def idle_memory(before: dict[str, int], after: dict[str, int], sockets_of: Counter, sockets: int) -> dict:
    """{name: (RSS before, RSS after, sockets it holds, bytes per socket)}: a server's growth over
    its own sockets, Redis's and MariaDB's over all of them."""
    rows = {}
    for name in after:
        if name not in before or name.startswith("gen"):
            continue
        held = sockets_of.get(name, sockets) if name.rstrip("0123456789") in SERVER_COLUMNS else sockets
        rows[name] = (before[name], after[name], held, (after[name] - before[name]) / held if held else float("nan"))
    return rows


def print_idle_memory(name: str, rows: dict, idle_seconds: float) -> None:
    cells = [
        f"{process} {b / 2**20:.0f} → {a / 2**20:.0f} MB over {n} sockets = {per / 1024:.1f} KiB/socket"
        for process, (b, a, n, per) in rows.items()
    ]
    print(
        f"[{name}] idle memory per socket (after {idle_seconds:g} s idle, minus before the burst; MariaDB is "
        f"shared with the machine):\n    " + "\n    ".join(cells),
        flush=True,
    )


def signal_all(pids: dict[str, int], signum: int) -> None:
    for pid in pids.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def _wait_for(paths: list[Path], seconds: float) -> list[Path]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not all(p.exists() for p in paths):
        time.sleep(0.2)
    time.sleep(0.5)  # written from a signal handler: let the last write finish
    return [p for p in paths if p.exists()]


def short_frame(frame: str) -> str:
    """A source location without the checkout's or the venv's directory."""
    for root in (str(VENV_BIN.parent / "lib"), str(BASE_DIR)):
        if frame.startswith(root):
            frame = frame[len(root) :].lstrip("/")
            return frame.split("site-packages/", 1)[-1]
    return frame.rsplit("/lib/python3", 1)[-1].split("/", 1)[-1] if "/lib/python3" in frame else frame


def print_allocation_sites(name: str, files: dict[str, Path], sockets_of: Counter, top: int = 15) -> None:
    """Where the idle sockets' Python memory is, from serve_instrumented.py's tracemalloc snapshot
    (allocations made since the burst began and still held)."""
    found = _wait_for(list(files.values()), 180)
    for server, path in files.items():
        if path not in found:
            print(f"[{name}] {server}: no allocation trace written ({path})", flush=True)
            continue
        trace = json.loads(path.read_text())
        n = sockets_of.get(server) or 1
        print(
            f"[{name}] {server}: Python allocations held since the burst (tracemalloc): "
            f"{trace['traced'] / 2**20:.1f} MB = {trace['traced'] / n / 1024:.1f} KiB/socket "
            f"(peak {trace['peak'] / 2**20:.1f} MB); top sites by line, bytes and blocks per socket:",
            flush=True,
        )
        for site in [s for s in trace["sites"] if s["group"] == "lineno"][:top]:
            print(f"    {site['size'] / n:8.0f} B {site['count'] / n:6.1f}  {short_frame(site['frames'][0])}")
        print(f"  [{server}] the same by whole stack (innermost first), top {top // 2}:")
        for site in [s for s in trace["sites"] if s["group"] == "traceback"][: top // 2]:
            frames = " < ".join(short_frame(f) for f in site["frames"][:6])
            print(f"    {site['size'] / n:8.0f} B {site['count'] / n:6.1f}  {frames}")


def collector_summary(pauses: dict) -> str:
    """The collector's pauses per generation ({generation: (collections, seconds, longest)}) as
    one phrase: "gen0: 12 collections, 40 ms (longest 9 ms), ..."; "" when there were none."""
    return ", ".join(
        f"gen{g}: {c} collections, {t * 1000:.0f} ms (longest {m * 1000:.0f} ms)"
        for g, (c, t, m) in sorted(pauses.items())
    )


def print_gc_pauses(name: str, servers: dict[str, Path], labels: list[str]) -> None:
    """The garbage collector's pauses per server and window (serve_instrumented.py --gc-only):
    collections, their total and the longest, per generation, and the objects tracked."""
    for server, prefix in servers.items():
        for k, label in enumerate(labels, start=1):
            paths = _wait_for([Path(f"{prefix}.gc{k}.json")], 30)
            if not paths:
                print(f"[{name}] {server}: no collector record of {label}", flush=True)
                continue
            data = json.loads(paths[0].read_text())
            collector = collector_summary(data["pauses"])
            print(
                f"[{name}] {server}: garbage collector during {label}: {collector or 'no collection'}; "
                f"{data['objects']} objects tracked at its end",
                flush=True,
            )


def print_cpu_profiles(name: str, servers: dict[str, Path], windows: list[int], label: str, top: int) -> None:
    """Where the servers' CPU went in some of serve_instrumented.py's profile windows (each
    server's windows together): the top functions by own and by cumulative CPU time of their
    thread. cProfile slows what it measures: a profiled run's latencies are not its figures."""
    import pstats

    for server, prefix in servers.items():
        paths = _wait_for([Path(f"{prefix}.cpu{k}.prof") for k in windows], 60)
        if not paths:
            print(f"[{name}] {server}: no CPU profile written", flush=True)
            continue
        profile = pstats.Stats(*map(str, paths)).get_stats_profile()
        functions = profile.func_profiles
        total = profile.total_tt or float("nan")
        pauses: dict[str, list[float]] = {}
        objects = 0
        for path in paths:
            gc_path = Path(str(path).replace(".cpu", ".gc").replace(".prof", ".json"))
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(gc_path.read_text())
                objects = data["objects"]
                for generation, (count, spent, longest) in data["pauses"].items():
                    entry = pauses.setdefault(generation, [0, 0.0, 0.0])
                    entry[0] += count
                    entry[1] += spent
                    entry[2] = max(entry[2], longest)
        collector = collector_summary(pauses)
        print(
            f"[{name}] {server}: CPU profile of {label} ({total:.1f} CPU s, every thread); garbage collector: "
            f"{collector or 'no collection'}, {objects} objects tracked at the end; top {top} by own time, then "
            "by cumulative time:",
            flush=True,
        )

        def where(fname: str, fp) -> str:
            return f"{fname}  {short_frame(fp.file_name)}:{fp.line_number}"

        for fname, fp in sorted(functions.items(), key=lambda kv: -kv[1].tottime)[:top]:
            print(f"    own {fp.tottime:6.2f} s {fp.tottime / total * 100:5.1f}%  n {fp.ncalls:>9}  {where(fname, fp)}")
        print(f"  [{server}] by cumulative time:")
        for fname, fp in sorted(functions.items(), key=lambda kv: -kv[1].cumtime)[:top]:
            print(f"    cum {fp.cumtime:6.2f} s {fp.cumtime / total * 100:5.1f}%  n {fp.ncalls:>9}  {where(fname, fp)}")


@dataclass
class StepResult:
    rate: int
    sent: int = 0
    achieved: float = 0.0
    expected: int = 0
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    latencies: list[float] = field(default_factory=list)
    per_second: float = 0.0
    acked: int = 0
    ack_p99: float = float("nan")
    errors: dict = field(default_factory=dict)
    resources: dict = field(default_factory=dict)
    late_earlier: int = 0
    outage: dict = field(default_factory=dict)  # --redis-outage: outage_figures()
    catch_up: dict = field(default_factory=dict)  # --catch-up: the generators' counters after the step
    send_failures: int = 0
    closed: int = 0
    heartbeats: dict = field(default_factory=dict)  # pings, pongs, late_pongs over the step and its drain
    load: float = float("nan")  # the machine's 1-minute load average at the end of the send window

    @property
    def broken(self) -> bool:
        return self.lost > 0 or not self.latencies or percentile(self.latencies, 99) > BREAK_P99_SECONDS

    def server_cpu_us(self) -> float:
        """CPU of the server processes (not Redis, MariaDB or the generators) per delivery, in
        µs: what a delivery costs, which a machine shared with other work moves much less than
        it moves latency."""
        cpu = sum(c for name, (c, _rss) in self.resources.items() if name.rstrip("0123456789") in SERVER_COLUMNS)
        return cpu / 100 / self.per_second * 1e6 if self.per_second else float("nan")

    def ms(self, q: float) -> str:
        value = max(self.latencies) if q == 100 and self.latencies else percentile(self.latencies, q)
        return "-" if value != value else f"{value * 1000:.0f}"


@dataclass
class TargetResult:
    name: str
    connect_seconds: float = float("nan")
    connected: int = 0
    connect_stats: dict = field(default_factory=dict)
    steps: dict = field(default_factory=dict)  # rate -> StepResult
    connect_times: list = field(default_factory=list)
    ready_seconds: float = float("nan")  # the last "hello" of the burst (Lyceum), else the last connect
    ready_within_5: int = 0
    rest: tuple | None = None  # (connected, seconds, stats) after a burst that left some out
    connected_within_30: int = 0
    idle_memory: dict = field(default_factory=dict)  # idle_memory()
    note: str = ""


def run_target(
    name: str,
    clients: list[Client],
    members_of: dict[int, list[int]],
    pids: dict[str, int],
    args,
    run_deadline: float,
    *,
    servers: list[str],
    redis_url: str,
    logdir: Path,
    services: Services | None = None,
) -> TargetResult:
    """One target's sitting. `servers`: the names (in `pids`) of the server processes, client
    index i on servers[i % len(servers)]; `redis_url`: the target's private Redis."""
    result = TargetResult(name=name)
    ctx = mp.get_context("spawn")
    pipes, procs = [], []
    for g in range(args.generators):
        parent, child = ctx.Pipe()
        share = [c for c in clients if (c.index // 2) % args.generators == g]
        proc = ctx.Process(
            target=generator_main,
            args=(child, name, share, not args.no_heartbeats, args.catch_up, args.generator_loop),
            name=f"chatload-gen{g}",
            daemon=True,
        )
        proc.start()
        pipes.append(parent)
        procs.append(proc)
    try:
        watch_pids = dict(pids)
        for g, proc in enumerate(procs):
            watch_pids[f"gen{g}"] = proc.pid
        memory_before = memory_of(watch_pids, redis_url)
        windowed = args.profile_server or args.gc_pauses  # SIGUSR2 windows: the burst, each send window
        instrumented = {n: pids[n] for n in servers} if windowed or args.trace_memory else {}
        # serve_instrumented.py's files are named after the service: "<target name><i>".
        written = {n: logdir / f"{name}{n[len(n.rstrip('0123456789')) :]}" for n in instrumented}
        if args.trace_memory:
            signal_all(instrumented, signal.SIGUSR1)  # tracemalloc on: what the burst allocates
        if windowed:
            signal_all(instrumented, signal.SIGUSR2)  # window 1: the connects
        burst_watch = ProcessWatch(watch_pids)
        burst_watch.begin()
        start = time.monotonic() + 1.0
        for pipe in pipes:
            pipe.send({"cmd": "connect", "start": start, "deadline": start + args.burst_seconds})
        replies = [pipe.recv() for pipe in pipes]
        connected = {i for r in replies for i in r["connected"]}
        times = [t for r in replies for t in r["times"]]
        stats: Counter = Counter()
        for r in replies:
            stats.update(r["stats"])
            result.connected = len(times)
        ready = [t for r in replies for t in r["ready"]]
        result.ready_seconds = max(ready) if ready else float("nan")
        result.ready_within_5 = sum(1 for t in ready if t <= 5.0)
        result.connect_times = times
        result.connect_seconds = max(times) if times else float("nan")
        result.connect_stats = dict(stats)
        result.connected_within_30 = sum(1 for t in times if t <= 30.0)
        print(
            f"[{name}] connected {result.connected}/{len(clients)} sockets in {result.connect_seconds:.2f} s "
            f"({result.connected_within_30} within 30 s; {dict(stats)}); {result.ready_within_5} ready within 5 s, "
            f"the last at {result.ready_seconds:.2f} s ({machine_load()})",
            flush=True,
        )
        if result.connected < len(clients):
            rest_start = time.monotonic()
            for pipe in pipes:  # 8 at a time per generator
                pipe.send({"cmd": "connect_rest", "concurrency": 8, "deadline": rest_start + args.connect_deadline})
            rest = [pipe.recv() for pipe in pipes]
            connected |= {i for r in rest for i in r["connected"]}
            more = sum(len(r["times"]) for r in rest)
            rest_stats: Counter = Counter()
            for r in rest:
                rest_stats.update(r["stats"])
            result.rest = (more, time.monotonic() - rest_start, dict(rest_stats))
            print(
                f"[{name}] then {more} more, {8 * len(pipes)} at a time, in {result.rest[1]:.1f} s "
                f"({dict(rest_stats)})",
                flush=True,
            )
            if result.connected + more < len(clients):
                result.note = f"only {result.connected + more}/{len(clients)} sockets connected"
        time.sleep(args.settle_seconds)
        burst_cpu = burst_watch.end_seconds()
        if windowed:
            signal_all(instrumented, signal.SIGUSR2)
        n_connected = len(connected) or 1
        print(
            f"[{name}] CPU of the connects (the burst{' and the rest' if result.rest else ''}, until "
            f"{args.settle_seconds:g} s after): "
            + ", ".join(f"{k} {v:.1f} s = {v / n_connected * 1000:.2f} ms/socket" for k, v in burst_cpu.items()),
            flush=True,
        )
        # Idle memory: every socket connected and greeted, nothing sent for --idle-seconds.
        time.sleep(args.idle_seconds)
        sockets_of = Counter(servers[i % len(servers)] for i in connected)
        result.idle_memory = idle_memory(memory_before, memory_of(watch_pids, redis_url), sockets_of, len(connected))
        print_idle_memory(name, result.idle_memory, args.idle_seconds)
        beats = heartbeat_counts(pipes)
        if name.startswith("lyceum"):
            print(
                f"[{name}] heartbeats since the burst: {beats['pings']} pings, {beats['pongs']} pongs "
                f"({beats['late_pongs']} later than {PONG_TIMEOUT_SECONDS:g} s)",
                flush=True,
            )
        if args.trace_memory:
            signal_all(instrumented, signal.SIGUSR1)  # the snapshot, and tracemalloc off
            print_allocation_sites(name, {n: Path(f"{written[n]}.mem.json") for n in instrumented}, sockets_of)
        broken_steps = 0
        profiled_steps: list[int] = []
        for step_number, rate in enumerate(args.steps, start=1):
            if time.monotonic() + args.step_seconds + args.drain_seconds > run_deadline:
                result.note = f"stopped before {rate} msg/s: --max-seconds reached"
                break
            step = StepResult(rate=rate)
            watch = ProcessWatch(watch_pids)
            start = time.monotonic() + 0.5
            for pipe in pipes:
                pipe.send(
                    {
                        "cmd": "step",
                        "step": step_number,
                        "rate": rate / args.generators,
                        "start": start,
                        "seconds": args.step_seconds,
                    }
                )
            time.sleep(max(0.0, start - time.monotonic()))
            if windowed:
                signal_all(instrumented, signal.SIGUSR2)  # a window of the send window
            watch.begin()
            outage = None
            if args.redis_outage and step_number == 1 and services is not None:
                outage = kill_and_restart_redis(services, f"{name}-redis", redis_url, start, *args.redis_outage)
                print(
                    f"[{name}] Redis killed (SIGKILL) {outage[0] - start:.1f} s into the step, answering again "
                    f"{outage[1] - outage[0]:.1f} s later (empty)",
                    flush=True,
                )
                watch_pids["redis"] = pids["redis"] = services.processes[f"{name}-redis"].pid
            time.sleep(max(0.0, start + args.step_seconds - time.monotonic()))
            step.resources = watch.end()
            if windowed:
                signal_all(instrumented, signal.SIGUSR2)
                profiled_steps.append(rate)
            step.load = os.getloadavg()[0]
            sends = [pipe.recv() for pipe in pipes]
            sent = [s for reply in sends for s in reply["sent"]]
            step.send_failures = sum(reply["send_failures"] for reply in sends)
            step.sent = len(sent)
            step.achieved = len(sent) / args.step_seconds
            sent_at = {key: t for key, _conv, _uid, t in sent}
            expected_pairs = set()
            owner = {c.uid: (c.index // 2) % args.generators for c in clients}
            expected_per_gen = Counter()
            for key, conversation, uid, _t in sent:
                for member in members_of[conversation]:
                    if member != uid:
                        expected_pairs.add((key, member))
                        expected_per_gen[owner[member]] += 1
            step.expected = len(expected_pairs)
            until = time.monotonic() + args.drain_seconds
            for g, pipe in enumerate(pipes):
                pipe.send(
                    {
                        "cmd": "drain",
                        "step": step_number,
                        "expected": expected_per_gen[g],
                        "until": until,
                        "idle": args.drain_idle,
                    }
                )
            drained = [pipe.recv() for pipe in pipes]
            seen = set()
            views: dict[tuple[str, int], float] = {}  # (client_id, member) -> when it was first shown
            errors: Counter = Counter()
            acks = []
            for reply in drained:
                errors.update(reply["errors"])
                step.closed += reply["closed"]
                step.late_earlier += sum(reply["late"].values())
                acks += reply["acks"]
                for key, uid, t in reply["received"]:
                    pair = (key, uid)
                    if pair not in expected_pairs:
                        continue
                    if pair in seen:
                        step.duplicated += 1
                        continue
                    seen.add(pair)
                    views[pair] = t
                    step.latencies.append(t - sent_at[key])
            step.delivered = len(seen)
            step.lost = step.expected - step.delivered
            step.per_second = step.delivered / args.step_seconds
            step.acked = len({key for key, _t in acks})
            ack_latencies = [t - sent_at[key] for key, t in acks if key in sent_at]
            step.ack_p99 = percentile(ack_latencies, 99)
            step.errors = {k: v for k, v in errors.items() if v}
            if args.catch_up:
                step.catch_up = generator_counts(pipes, "catch_up")
            if outage is not None:
                step.outage = outage_figures(outage, sent_at, expected_pairs, views)
            now_beats = heartbeat_counts(pipes)
            step.heartbeats = dict(now_beats - beats)
            beats = now_beats
            result.steps[rate] = step
            print_step(name, step)
            if step.broken:
                broken_steps += 1
                if broken_steps > args.after_break:
                    break
        if args.gc_pauses:
            print_gc_pauses(name, written, ["the connect burst", *(f"{r} msg/s" for r in profiled_steps)])
        elif args.profile_server:
            print_cpu_profiles(name, written, [1], "the connect burst (and the rest)", args.profile_top)
        if profiled_steps and args.profile_server:
            windows = list(range(2, len(profiled_steps) + 2))
            label = f"the send windows of steps {', '.join(map(str, profiled_steps))} msg/s"
            print_cpu_profiles(name, written, windows, label, args.profile_top)
    finally:
        stop_generators(pipes, procs)
    return result


def kill_and_restart_redis(
    services: Services, name: str, url: str, start: float, at: float, seconds: float
) -> tuple[float, float]:
    """`at` s after `start`, SIGKILL the redis-server `name`; `seconds` later start it again,
    empty (no persistence), on the same port. (killed, answering again), monotonic."""
    time.sleep(max(0.0, start + at - time.monotonic()))
    killed = time.monotonic()
    services.kill(name)
    time.sleep(max(0.0, killed + seconds - time.monotonic()))
    return killed, services.restart_redis(name, url)


def outage_figures(outage: tuple[float, float], sent_at: dict, expected: set, views: dict) -> dict:
    """What each member's view showed of the messages sent before, during and after a Redis
    outage: deliveries, lost (never shown), view latency (send to first shown) p50/p99/max, and
    when the last message sent before Redis answered again was shown, after it did."""
    killed, back = outage
    phases = {"before": [], "during": [], "after": []}
    lost = Counter()
    for key, member in expected:
        t = sent_at[key]
        phase = "before" if t < killed else "during" if t < back else "after"
        shown = views.get((key, member))
        if shown is None:
            lost[phase] += 1
        else:
            phases[phase].append(shown - t)
    caught_up = max(
        (shown - back for (key, _member), shown in views.items() if sent_at[key] < back), default=float("nan")
    )
    figures = {
        phase: {
            "deliveries": len(latencies) + lost[phase],
            "lost": lost[phase],
            "p50": percentile(latencies, 50),
            "p99": percentile(latencies, 99),
            "max": max(latencies, default=float("nan")),
        }
        for phase, latencies in phases.items()
    }
    figures["down_seconds"] = back - killed
    figures["caught_up_seconds"] = caught_up
    return figures


def generator_counts(pipes, command: str) -> Counter:
    """A generator command's counters ("heartbeats", "catch_up"), summed over every generator."""
    total: Counter = Counter()
    for pipe in pipes:
        pipe.send({"cmd": command})
    for pipe in pipes:
        total.update(pipe.recv())
    return total


def heartbeat_counts(pipes) -> Counter:
    """Pings sent, pongs received and pongs later than live.js waits, over every generator so far."""
    return generator_counts(pipes, "heartbeats")


def stop_generators(pipes, procs) -> None:
    """Tell every generator to close its sockets, wait for it (15 s), then end its process."""
    for pipe in pipes:
        with contextlib.suppress(Exception):
            pipe.send({"cmd": "close"})
    for pipe in pipes:
        with contextlib.suppress(Exception):
            if pipe.poll(15):
                pipe.recv()
    for proc in procs:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.terminate()


def print_step(name: str, step: StepResult) -> None:
    res = "  ".join(
        f"{k} {cpu:.0f}%/{rss:.0f}MB" if rss == rss else f"{k} {cpu:.0f}%" for k, (cpu, rss) in step.resources.items()
    )
    extra = f" acked {step.acked} ack-p99 {step.ack_p99 * 1000:.0f} ms" if step.acked else ""
    if step.heartbeats:
        beats = step.heartbeats
        extra += f" pings {beats.get('pings', 0)} pongs {beats.get('pongs', 0)} late {beats.get('late_pongs', 0)}"
    print(
        f"[{name}] {step.rate:>4} msg/s: sent {step.sent} ({step.achieved:.1f}/s) deliveries {step.delivered}/"
        f"{step.expected} p50/p95/p99/max {step.ms(50)}/{step.ms(95)}/{step.ms(99)}/{step.ms(100)} ms "
        f"lost {step.lost} dup {step.duplicated} {step.per_second:.0f} deliv/s{extra} errors {step.errors} "
        f"closed {step.closed} late-from-earlier-steps {step.late_earlier} load {step.load:.1f}\n    cpu/rss: {res}",
        flush=True,
    )
    if step.catch_up:
        print(f"    catch-up (as static/js/chat does), so far: {dict(step.catch_up)}", flush=True)
    if step.outage:
        print("    " + "\n    ".join(outage_lines(step.outage)), flush=True)


def outage_lines(outage: dict) -> list[str]:
    def ms(value: float) -> str:
        return "-" if value != value else f"{value * 1000:.0f}"

    lines = [
        f"Redis down {outage['down_seconds']:.1f} s; every view held every message sent before it answered again "
        f"{outage['caught_up_seconds']:.1f} s after it did"
    ]
    for phase in ("before", "during", "after"):
        row = outage[phase]
        lines.append(
            f"sent {phase:>6} the outage: {row['deliveries']:>6} deliveries, lost {row['lost']}, view latency "
            f"p50/p99/max {ms(row['p50'])}/{ms(row['p99'])}/{ms(row['max'])} ms"
        )
    return lines


def print_tables(results: list[TargetResult], args) -> None:
    print()
    print(
        f"Chat load: {args.users} live sockets (50% 1-on-1, 40% groups of 10, 10% groups of 50), open loop, "
        f"{args.step_seconds:g} s per step, drain ≤ {args.drain_seconds:g} s "
        f"(or {args.drain_idle:g} s without a delivery), "
        f"{args.generators} generator processes ({args.generator_loop}), {args.processes} server processes per target"
    )
    print(f"Machine: at the start {args.load_at_start}; at the end {args.load_at_end}")
    print()
    for r in results:
        stats = ", ".join(f"{k} {v}" for k, v in sorted(r.connect_stats.items()))
        print(
            f"- {r.name}: burst of {args.users} connects: {sum(1 for t in r.connect_times if t <= 10.0)} connected "
            f"within 10 s, {sum(1 for t in r.connect_times if t <= args.burst_seconds)} within "
            f"{args.burst_seconds:g} s, {r.connected} by the burst's end (the last at {r.connect_seconds:.2f} s; "
            f"{stats}); {r.ready_within_5} ready (hello received) within 5 s, the last at {r.ready_seconds:.2f} s"
        )
        if r.rest:
            rest_stats = ", ".join(f"{k} {v}" for k, v in sorted(r.rest[2].items()))
            print(
                f"  then the other {args.users - r.connected}, 16 at a time: {r.rest[0]} in {r.rest[1]:.1f} s "
                f"({rest_stats})"
            )
    print()
    names = [r.name for r in results]
    head = "| msg/s |" + "|".join(
        f" {n} p50/p95/p99/max ms | {n} lost | {n} dup | {n} deliv/s |" for n in names
    ).replace("||", "|")
    print(head)
    print("|---:|" + "---:|" * (4 * len(results)))
    rates = sorted({rate for r in results for rate in r.steps})
    for rate in rates:
        cells = []
        for r in results:
            s = r.steps.get(rate)
            if s is None:
                cells += ["—", "—", "—", "—"]
            else:
                cells += [
                    f"{s.ms(50)}/{s.ms(95)}/{s.ms(99)}/{s.ms(100)}" + (" ✗" if s.broken else ""),
                    f"{s.lost} ({s.lost / s.expected * 100:.1f}%)" if s.expected and s.lost else str(s.lost),
                    str(s.duplicated),
                    f"{s.per_second:.0f}",
                ]
        print(f"| {rate} | " + " | ".join(cells) + " |")
    print()
    print("The same, one row per target and step (server CPU: µs of the server processes' CPU per delivery):")
    print()
    print("| target | msg/s | p50/p95/p99/max ms | lost | dup | deliv/s | server CPU µs/deliv | load |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        for rate, s in r.steps.items():
            lost = f"{s.lost} ({s.lost / s.expected * 100:.1f}%)" if s.expected and s.lost else str(s.lost)
            print(
                f"| {r.name} | {rate} | {s.ms(50)}/{s.ms(95)}/{s.ms(99)}/{s.ms(100)}{' ✗' if s.broken else ''} | "
                f"{lost} | {s.duplicated} | {s.per_second:.0f} | {s.server_cpu_us():.0f} | {s.load:.1f} |"
            )
    print()
    print("CPU (% of one core over the send window) / RSS (MB) per process; machine = all processes on the box")
    print()
    for r in results:
        if not r.steps:
            continue
        columns = list(next(iter(r.steps.values())).resources)
        print(f"| {r.name} msg/s | " + " | ".join(columns) + " |")
        print("|---:|" + "---:|" * len(columns))
        for rate, s in r.steps.items():
            cells = []
            for col in columns:
                cpu, rss = s.resources.get(col, (float("nan"), float("nan")))
                cells.append(f"{cpu:.0f}%" + (f" / {rss:.0f}" if rss == rss else ""))
            print(f"| {rate} | " + " | ".join(cells) + " |")
        print()
    for r in results:
        details = []
        for rate, s in r.steps.items():
            bits = [f"sent {s.sent} ({s.achieved:.1f}/s), load {s.load:.1f}"]
            if s.acked:
                bits.append(f"acked {s.acked}, ack p99 {s.ack_p99 * 1000:.0f} ms")
            if s.errors:
                bits.append(f"errors {s.errors}")
            if s.send_failures:
                bits.append(f"send failures {s.send_failures}")
            if s.late_earlier:
                bits.append(f"{s.late_earlier} late deliveries of earlier steps")
            details.append(f"{rate}: " + ", ".join(bits))
        print(f"- {r.name}: " + "; ".join(details) + (f". {r.note}" if r.note else ""))
    print()
    best = {}
    for r in results:
        held = [rate for rate, s in r.steps.items() if not s.broken]
        best[r.name] = max(held) if held else 0
        print(f"- {r.name}: highest step with p99 ≤ {BREAK_P99_SECONDS:g} s and 0 lost: {best[r.name]} msg/s")
    for r in results:
        for rate, step in r.steps.items():
            if step.outage:
                print(f"\n- {r.name}: Redis outage in the {rate} msg/s step:")
                for line in outage_lines(step.outage):
                    print(f"    {line}")
                if step.catch_up:
                    print(f"    the clients' catch-up: {dict(step.catch_up)}")


# --- Main ------------------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--target",
        default="both",
        help="comma-separated, in order: lyceum, bare (the Channels tutorial chat), websockets (bare asyncio "
        "websockets, the upper limit); 'both' = lyceum,bare; 'all' = lyceum,bare,websockets",
    )
    parser.add_argument(
        "--server",
        default="daphne",
        help="ASGI server(s) of the lyceum and bare targets, comma-separated: daphne, uvicorn; each target "
        "runs once per server",
    )
    parser.add_argument(
        "--uvicorn-ws",
        default=UVICORN_WS,
        choices=["websockets", "websockets-sansio", "wsproto"],
        help="uvicorn's WebSocket implementation",
    )
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--steps", default=",".join(map(str, DEFAULT_STEPS)), help="messages/s overall, in order")
    parser.add_argument("--step-seconds", type=float, default=20.0)
    parser.add_argument("--drain-seconds", type=float, default=60.0, help="longest wait for deliveries in flight")
    parser.add_argument("--drain-idle", type=float, default=5.0, help="stop draining after this long without one")
    parser.add_argument("--after-break", type=int, default=1, help="steps to run after the first broken one")
    parser.add_argument("--settle-seconds", type=float, default=3.0, help="pause after the connect burst")
    parser.add_argument("--burst-seconds", type=float, default=30.0, help="how long the burst's sockets retry")
    parser.add_argument(
        "--connect-deadline", type=float, default=240.0, help="then connect the rest, 16 at a time, within this"
    )
    parser.add_argument("--max-seconds", type=float, default=1500.0, help="bound on the whole run")
    parser.add_argument("--generators", type=int, default=2, help="load-generator processes")
    parser.add_argument(
        "--generator-loop",
        choices=["asyncio", "uvloop"],
        default="asyncio",
        help="the generators' event loop (the same for every target)",
    )
    parser.add_argument("--processes", type=int, default=2, help="server processes, the same for every target")
    parser.add_argument("--database-url", default=os.environ.get("CHAT_LOAD_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--fresh", action="store_true", help="drop and rebuild the benchmark database")
    parser.add_argument("--quick", action="store_true", help="steps 25 and 100 of 5 s each: a smoke run")
    parser.add_argument(
        "--no-heartbeats", action="store_true", help="Lyceum's clients send no heartbeat pings (live.js does)"
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the server logs directory")
    parser.add_argument(
        "--profile-server", action="store_true", help="cProfile Lyceum's server processes (implies --keep-logs)"
    )
    parser.add_argument(
        "--trace-memory",
        action="store_true",
        help="tracemalloc in Lyceum's server processes from the burst to the idle measurement: the top "
        "allocation sites per socket (slows the burst; implies --keep-logs)",
    )
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="idle time before the memory is read")
    parser.add_argument("--profile-top", type=int, default=25, help="functions printed per CPU profile")
    parser.add_argument(
        "--gc-pauses",
        action="store_true",
        help="print the garbage collector's pauses of Lyceum's servers in the burst and each step (no profile)",
    )
    parser.add_argument(
        "--catch-up",
        action="store_true",
        help="Lyceum's clients keep static/js/chat's cursors: a gap or a later hello resyncs, unacked sends go "
        "again after a hello, a closed socket reconnects",
    )
    parser.add_argument(
        "--redis-outage",
        metavar="AT,SECONDS",
        help="SIGKILL the target's Redis AT s into the first step and start it again, empty, SECONDS later "
        "(implies --catch-up)",
    )
    parser.add_argument(
        "--lyceum-env", action="append", default=[], metavar="NAME=VALUE", help="extra env for Lyceum's daphnes"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.step_seconds, args.drain_seconds, args.after_break = "25,100", 5.0, 10.0, 0
    args.keep_logs = args.keep_logs or args.profile_server or args.trace_memory or args.gc_pauses
    aliases = {"both": "lyceum,bare", "all": ",".join(TARGETS)}
    args.target = [t for t in aliases.get(args.target, args.target).split(",") if t]
    args.server = [t for t in args.server.split(",") if t]
    if not set(args.target) <= set(TARGETS) or not args.target:
        parser.error(f"--target: choose from {', '.join(TARGETS)} (or both, all)")
    if not set(args.server) <= set(SERVERS) or not args.server:
        parser.error(f"--server: choose from {', '.join(SERVERS)}")
    args.steps = [int(s) for s in str(args.steps).split(",") if s.strip()]
    if args.redis_outage:
        try:
            at, seconds = (float(v) for v in args.redis_outage.split(","))
        except ValueError:
            parser.error("--redis-outage: AT,SECONDS, e.g. 10,5")
        if at < 0 or seconds < 0 or at + seconds >= args.step_seconds:
            parser.error("--redis-outage: the outage must end within the first step (--step-seconds)")
        args.redis_outage, args.catch_up = (at, seconds), True
    return args


def plan(args) -> list[tuple[str, str]]:
    """(target, server) in the order they run: each Channels target once per server, the bare
    websockets server (its own server) once."""
    return [
        (kind, server) for kind in args.target for server in (args.server if kind != "websockets" else ["websockets"])
    ]


def main(argv=None) -> int:
    args = parse_args(argv)
    open_files = raise_open_files_limit()
    if open_files < args.users + 1000:
        print(f"warning: open files limited to {open_files} per process for {args.users} sockets", flush=True)
    run_deadline = time.monotonic() + args.max_seconds
    logdir = Path(tempfile.mkdtemp(prefix="chatload-"))
    args.load_at_start = machine_load()
    names = [kind if kind == "websockets" else f"{kind}-{server}" for kind, server in plan(args)]
    print(f"chat load sitting: {', '.join(names)}; {args.load_at_start}", flush=True)
    secret_key = secrets.token_urlsafe(50)
    conversations_idx = layout(args.users)
    users = prepare_database(args.database_url, args.users, secret_key, args.fresh)
    members_of: dict[int, list[int]] = defaultdict(list)
    for uid, conversation, _key in users:
        members_of[conversation].append(uid)
    assert len(members_of) == len(conversations_idx)
    db_pid = mariadb_pid()
    results = []
    services = Services(logdir)
    try:
        for kind, server in plan(args):
            name = kind if kind == "websockets" else f"{kind}-{server}"
            print(f"[{name}] starting ({machine_load()})", flush=True)
            if kind == "lyceum":
                empty_conversations()
                redis_url = services.redis(f"{name}-redis")
                env = lyceum_env(args.database_url, redis_url, secret_key)
                env.update(dict(item.split("=", 1) for item in args.lyceum_env))
                ports = [
                    services.asgi(
                        f"{name}{i}",
                        server,
                        "config.asgi:application",
                        cwd=BASE_DIR,
                        env=env,
                        instrument=args.profile_server or args.trace_memory or args.gc_pauses,
                        ws=args.uvicorn_ws,
                        gc_only=args.gc_pauses and not args.profile_server,
                    )
                    for i in range(1, args.processes + 1)
                ]
                path, cookie = "/ws/live/", True
            elif kind == "bare":
                redis_url = services.redis(f"{name}-redis")
                env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
                env.update(
                    BARE_CHAT_REDIS_URL=redis_url, DJANGO_SETTINGS_MODULE="bare_chat.settings", PYTHONPATH=str(BARE_DIR)
                )
                ports = [
                    services.asgi(
                        f"{name}{i}", server, "bare_chat.asgi:application", cwd=BARE_DIR, env=env, ws=args.uvicorn_ws
                    )
                    for i in range(1, args.processes + 1)
                ]
                path, cookie = None, False
            else:
                redis_url = services.redis(f"{name}-redis")
                ports = [services.bare_websockets(f"{name}{i}", redis_url) for i in range(1, args.processes + 1)]
                path, cookie = None, False
            clients = []
            for index, (uid, conversation, key) in enumerate(users):
                port = ports[index % len(ports)]
                headers = {"Origin": f"http://127.0.0.1:{port}"}
                if cookie:
                    headers["Cookie"] = f"sessionid={key}"
                clients.append(
                    Client(
                        uid=uid,
                        index=index,
                        conversation=conversation,
                        url=f"ws://127.0.0.1:{port}{path or f'/ws/chat/c{conversation}/'}",
                        headers=headers,
                    )
                )
            pids = {
                f"{server.split('-')[0] if kind != 'websockets' else 'ws'}{i}": services.processes[f"{name}{i}"].pid
                for i in range(1, args.processes + 1)
            }
            pids["redis"] = services.processes[f"{name}-redis"].pid
            if kind == "lyceum" and db_pid:
                pids["mariadb"] = db_pid
            servers = [n for n in pids if n.rstrip("0123456789") in SERVER_COLUMNS]
            results.append(
                run_target(
                    name,
                    clients,
                    members_of,
                    pids,
                    args,
                    run_deadline,
                    servers=servers,
                    redis_url=redis_url,
                    logdir=services.logdir,
                    services=services,
                )
            )
            services.stop_all()
    finally:
        services.stop_all()
        if args.keep_logs:
            print(f"server logs: {logdir}")
        else:
            shutil.rmtree(logdir, ignore_errors=True)
    args.load_at_end = machine_load()
    print_tables(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
