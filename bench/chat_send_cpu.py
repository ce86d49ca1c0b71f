"""Benchmark: the CPU and the round trips of ONE chat send, on the real store path.

    .venv/bin/python bench/chat_send_cpu.py                  # MariaDB + a private Redis, 2,000 sends
    .venv/bin/python bench/chat_send_cpu.py --project /tmp/older-checkout   # the same, another version

What a live "message.send" costs the daphne process that stores it, without the socket around it:
`chat.services.send_message` in one thread, against MariaDB (`--database-url`, the database
bench/chat_load.py builds: 1,000 users, half in 1-on-1 pairs, 40% in groups of 10, 10% in
groups of 50, every sender one of their members in turn) and a private redis-server
(cache, rate limit, Celery broker: the delayed unread e-mail tasks go to its queue, unused).
The live pushes are switched off (they are the event loop's work, measured by
bench/chat_load.py). One send per conversation first, outside the measurement (the first send
of a window schedules the unread e-mail task), then `--sends` sends, round robin over the users.

Prints per send: wall time, CPU time of the process (user + system, `time.process_time`),
database statements, and where the CPU went (each step of the send timed separately; the
steps are whatever functions of `chat.services.messages` / `chat.services.send_sql` the
project has: `--project` runs another checkout, e.g. an older commit in a git worktree).
"""

from __future__ import annotations

import argparse
import collections
import functools
import importlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "mysql://root@127.0.0.1:3306/lyceum_bench_load"
STEPS = [
    ("chat.services.messages", "check_send_rate"),
    ("chat.services.messages", "_locked_conversation"),
    ("chat.services.send_sql", "lock_conversation"),
    ("chat.services.messages", "_memberships_for_send"),
    ("chat.services.send_sql", "memberships_for_send"),
    ("chat.services.messages", "_check_can_send"),
    ("chat.services.messages", "_append"),
    ("chat.services.send_sql", "append_message"),
    ("chat.services.messages", "_mark_sent"),
    ("chat.services.messages", "schedule_unread_email"),
    ("chat.realtime", "message_new_event"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process, f"redis://127.0.0.1:{port}/0"
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not start")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("CHAT_LOAD_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--sends", type=int, default=2000)
    parser.add_argument("--project", type=Path, default=BASE_DIR, help="the checkout to measure (default: this one)")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    if args.measure:
        sys.path.insert(0, str(args.project.resolve()))
        import django

        django.setup()
        return run(args)

    sys.path.insert(0, str(BASE_DIR / "bench"))
    from bench_db import lyceum_env
    from chat_load import prepare_database  # the load benchmark's database

    secret_key = secrets.token_urlsafe(50)
    prepare_database(args.database_url, 1000, secret_key, fresh=False)
    workdir = Path(tempfile.mkdtemp(prefix="chatsend-"))
    redis, redis_url = start_redis(workdir)
    env = lyceum_env(args.database_url, redis_url, secret_key)  # the load benchmark's daphne settings
    env.update(
        REDIS_KEY_PREFIX="lyceum-bench-send",
        CELERY_QUEUE="lyceum-bench-send",
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONPATH="",
    )
    try:
        # A process of its own: it imports the measured checkout's code, nothing of this one.
        command = [sys.executable, __file__, "--measure", "--sends", str(args.sends), "--project", str(args.project)]
        return subprocess.run(command, env=env, cwd=args.project, check=False).returncode
    finally:
        redis.terminate()
        redis.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def run(args) -> int:
    from django.conf import settings
    from django.db import connection

    from accounts.models import User
    from chat.models import Membership
    from chat.services import messages
    from live import push

    settings.CHAT_SEND_RATE = (10**9, 10)  # the limit is checked (its round trip counts), never hit
    push.publish = lambda *args, **kwargs: None  # the event loop's part: not measured here
    rows = list(
        Membership.objects.filter(left_at__isnull=True, user__email__endswith="bench-load.lyceum.local")
        .order_by("user_id")
        .values_list("user_id", "conversation_id")
    )
    users = {user.pk: user for user in User.objects.filter(pk__in={uid for uid, _ in rows})}

    spent: collections.Counter = collections.Counter()
    for module_name, name in STEPS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # a step of another version of the code
            continue
        function = getattr(module, name, None)
        if function is None:
            continue

        def timed(*a, _function=function, _name=name, **kw):
            start = time.process_time()
            try:
                return _function(*a, **kw)
            finally:
                spent[_name] += time.process_time() - start

        setattr(module, name, functools.wraps(function)(timed))

    def send(index: int) -> None:
        uid, conversation_id = rows[index % len(rows)]
        messages.send_message(
            sender=users[uid], conversation_id=conversation_id, body=f"bench send {index}", client_id=uuid.uuid4().hex
        )

    seen = set()
    for index, (_uid, conversation_id) in enumerate(rows):  # the windows' unread e-mail tasks, not measured
        if conversation_id not in seen:
            seen.add(conversation_id)
            send(index)
    spent.clear()
    statements = 0

    def count(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        wall, cpu = time.perf_counter(), time.process_time()
        for index in range(args.sends):
            send(index * 7)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    n = args.sends
    print(f"chat send on {connection.vendor} ({args.project}): {n} sends, {len(seen)} conversations")
    print(f"  wall {1000 * wall / n:.2f} ms/send   cpu {1000 * cpu / n:.2f} ms/send")
    print(f"  statements {statements / n:.2f}/send (plus autocommit off, COMMIT and autocommit on)")
    for name, seconds in spent.most_common():
        print(f"    {1000 * seconds / n:6.3f} ms  {name}")
    print(f"    {1000 * (cpu - sum(spent.values())) / n:6.3f} ms  the rest (transaction, commit, wrappers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
