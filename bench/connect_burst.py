"""A burst of live connects: N sockets at once against the full stack, time to connected and to "hello".

    .venv/bin/python bench/connect_burst.py --sockets 200 --server uvicorn
    .venv/bin/python bench/connect_burst.py --sockets 200 --server daphne --repeat 3

The same setup as bench/chat_load.py (its database filling, private redis-server and server
processes): `--sockets` users with one session each (half in 1-on-1 pairs, who are also friends,
so a connect that brings a user online has an audience to tell), `--processes` server processes
(2), user i on process i % processes. Every socket opens at once (one asyncio client process);
a refused handshake is not retried, it counts as failed. Each round (`--repeat`) closes every
socket and waits for the servers to see them go before the next burst.

Printed per round: how many connected, when the last handshake completed and when the last
"hello" arrived (seconds after the burst started; p50 too), and what one connect cost: the
statements MariaDB ran (its global `Questions` counter over the round, divided by the sockets:
on a shared server this includes anyone else's statements) and the commands the private Redis
ran (INFO commandstats: channel layer, presence and cache together). `--profile-server` runs
the servers under bench/serve_instrumented.py, with one CPU profile window per round, and prints
the top functions of the rounds after the first (chat_load.py's print_cpu_profiles).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import secrets
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from bench_db import lyceum_env
from chat_load import BASE_DIR, Services, layout, machine_load, prepare_database, print_cpu_profiles, signal_all

DEFAULT_DATABASE_URL = "mysql://root@127.0.0.1:3306/lyceum_bench_connect"


def redis_commands(redis_url: str) -> Counter:
    """Commands the Redis server has run, by name (INFO commandstats), without INFO itself."""
    host, port = redis_url.removeprefix("redis://").split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"INFO commandstats\r\n")
        data = b""
        while True:
            data += sock.recv(65536)
            if data.startswith(b"$"):
                length = int(data[1 : data.index(b"\r\n")])
                if len(data) >= data.index(b"\r\n") + 2 + length:
                    break
    calls: Counter = Counter()
    for line in data.decode().splitlines():
        if line.startswith("cmdstat_") and not line.startswith("cmdstat_info:"):
            name = line.removeprefix("cmdstat_").split(":", 1)[0]
            calls[name] = int(line.split("calls=", 1)[1].split(",", 1)[0])
    return calls


def mariadb_questions(server) -> int:
    """MariaDB's global Questions counter (this SHOW counts as one)."""
    with server.cursor() as cursor:
        cursor.execute("SHOW GLOBAL STATUS LIKE 'Questions'")
        return int(cursor.fetchone()[1])


def befriend_pairs(user_ids: list[int]) -> None:
    """The 1-on-1 pairs of the layout are friends: their connects have someone to tell."""
    from social.models import Friendship

    pairs = [(user_ids[i], user_ids[i + 1]) for i in range(0, len(user_ids) // 2, 2)]
    rows = [Friendship(user_low_id=min(a, b), user_high_id=max(a, b)) for a, b in pairs]
    Friendship.objects.filter(user_low_id__in=user_ids).delete()
    Friendship.objects.bulk_create(rows)


async def one_socket(url: str, headers: dict, start: float, result: dict) -> object:
    from websockets.asyncio.client import connect

    try:
        ws = await connect(url, additional_headers=headers, compression=None, proxy=None, open_timeout=30)
    except Exception as error:
        result["failed"].append(type(error).__name__)
        return None
    result["connected"].append(time.monotonic() - start)
    try:
        async with asyncio.timeout(60):
            async for raw in ws:
                if '"hello"' in raw[:40]:
                    result["hello"].append(time.monotonic() - start)
                    break
    except Exception as error:
        result["failed"].append(f"hello:{type(error).__name__}")
    return ws


async def burst(targets: list[tuple[str, dict]], count_after) -> tuple[dict, object]:
    """Every socket at once; `count_after()` once every hello is in (before any socket closes)."""
    result: dict = {"connected": [], "hello": [], "failed": []}
    start = time.monotonic()
    sockets = await asyncio.gather(*(one_socket(url, headers, start, result) for url, headers in targets))
    counts = count_after()
    await asyncio.gather(*(ws.close() for ws in sockets if ws is not None), return_exceptions=True)
    return result, counts


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=200, help="sockets in the burst (a multiple of 100)")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--server", choices=("daphne", "uvicorn"), default="uvicorn")
    parser.add_argument("--repeat", type=int, default=2, help="bursts in a row (the first also warms up)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--lyceum-env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument(
        "--profile-server",
        action="store_true",
        help="run the servers under bench/serve_instrumented.py, a CPU profile per round; prints where the time "
        "of the rounds after the first went",
    )
    parser.add_argument("--profile-top", type=int, default=25, help="functions printed per CPU profile")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
    layout(args.sockets)  # refuses a count that is not a multiple of 100
    secret_key = secrets.token_urlsafe(50)
    users = prepare_database(args.database_url, args.sockets, secret_key, fresh=False)
    befriend_pairs([uid for uid, _c, _k in users])
    import MySQLdb

    parts = urlsplit(args.database_url)
    logdir = Path(tempfile.mkdtemp(prefix="connectburst-"))
    services = Services(logdir)
    try:
        redis_url = services.redis("redis")
        env = lyceum_env(args.database_url, redis_url, secret_key)
        env.update(dict(item.split("=", 1) for item in args.lyceum_env))
        ports = [
            services.asgi(
                f"{args.server}{i}",
                args.server,
                "config.asgi:application",
                cwd=BASE_DIR,
                env=env,
                instrument=args.profile_server,
            )
            for i in range(1, args.processes + 1)
        ]
        targets = []
        for index, (_uid, _conversation, key) in enumerate(users):
            port = ports[index % len(ports)]
            headers = {"Origin": f"http://127.0.0.1:{port}", "Cookie": f"sessionid={key}"}
            targets.append((f"ws://127.0.0.1:{port}/ws/live/", headers))
        print(
            f"connect burst: {args.sockets} sockets, {args.processes} {args.server} processes; {machine_load()}",
            flush=True,
        )
        server = MySQLdb.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=parts.username or "root",
            password=parts.password or "",
        )
        names = [f"{args.server}{i}" for i in range(1, args.processes + 1)]
        instrumented = {name: services.processes[name].pid for name in names} if args.profile_server else {}
        for round_number in range(1, args.repeat + 1):
            questions, commands = mariadb_questions(server), redis_commands(redis_url)
            signal_all(instrumented, signal.SIGUSR2)  # serve_instrumented.py: profile window <round> on
            result, (questions_after, commands_after) = asyncio.run(
                burst(targets, lambda: (mariadb_questions(server), redis_commands(redis_url)))
            )
            signal_all(instrumented, signal.SIGUSR2)  # and off: <name>.cpu<round>.prof written
            statements = (questions_after - questions - 1) / args.sockets
            commands_after.subtract(commands)
            redis_per = commands_after.total() / args.sockets
            by_command = ", ".join(
                f"{name} {count / args.sockets:.1f}" for name, count in commands_after.most_common() if count > 0
            )
            connected, hello = sorted(result["connected"]), sorted(result["hello"])
            print(
                f"round {round_number}: connected {len(connected)}/{args.sockets}, last at "
                f"{connected[-1] if connected else float('nan'):.2f} s; hello {len(hello)}, p50 "
                f"{statistics.median(hello) if hello else float('nan'):.2f} s, last at "
                f"{hello[-1] if hello else float('nan'):.2f} s; per connect: {statements:.1f} MariaDB statements, "
                f"{redis_per:.1f} Redis commands ({by_command})"
                + (f"; failed: {sorted(set(result['failed']))} x{len(result['failed'])}" if result["failed"] else ""),
                flush=True,
            )
            time.sleep(3)  # the servers see every socket go (presence, groups) before the next burst
        print(f"done; {machine_load()}", flush=True)
        if args.profile_server:
            # The first round warms the servers up: the profile is of the others, when there are any.
            rounds = list(range(2, args.repeat + 1)) or [1]
            label = f"the burst{'s' if len(rounds) > 1 else ''} of round{'s' if len(rounds) > 1 else ''} " + ", ".join(
                map(str, rounds)
            )
            print_cpu_profiles("connect", {name: logdir / name for name in names}, rounds, label, args.profile_top)
    finally:
        services.stop_all()
        if args.keep_logs:
            print(f"server logs: {logdir}")
        else:
            shutil.rmtree(logdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
