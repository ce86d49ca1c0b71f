"""Benchmark: the two ways of storing a chat message, side by side, on SQLite and MariaDB.

    .venv/bin/python bench/insert_paths.py                       # 3,000 inserts per path and vendor
    .venv/bin/python bench/insert_paths.py --inserts 5000 --mysql-url mysql://root@127.0.0.1:3306/lyceum_x

The two paths (each: insert the message, move the conversation's head; the conversation row is
locked first, outside the measurement, as every caller does):

- orm: `Message.objects.create(...)` and `Conversation.objects.filter(pk=…).update(...)`;
- sql: `chat.services.send_sql.append_message`, the statements written once per vendor.

Each vendor runs in a child process of its own on a fresh database (a temporary SQLite file;
the MariaDB database of `--mysql-url`, dropped and migrated first), with one group
conversation. The paths alternate in blocks of `--block` inserts, one transaction per insert,
so a machine whose load changes during the run slows both alike. Prints per path the mean and
p99 wall time of the insert itself and its mean CPU time (`time.process_time`).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR / "bench"))  # run as a file: its neighbours are not a package
from bench_db import ensure_mysql_database, lyceum_env, setup_django  # noqa: E402

DEFAULT_MYSQL_URL = "mysql://root@127.0.0.1:3306/lyceum_bench_insert"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inserts", type=int, default=3000, help="inserts per path and vendor")
    parser.add_argument("--block", type=int, default=100, help="inserts of one path before the other's turn")
    parser.add_argument("--mysql-url", default=os.environ.get("BENCH_MYSQL_URL", DEFAULT_MYSQL_URL))
    parser.add_argument("--vendors", default="sqlite,mysql")
    parser.add_argument("--project", type=Path, default=BASE_DIR, help="the checkout to measure (default: this one)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # the child process: its DATABASE_URL
    args = parser.parse_args(argv)
    if args.measure:
        return measure(args)

    status = 0
    for vendor in args.vendors.split(","):
        with tempfile.TemporaryDirectory(prefix="insert-paths-") as workdir:
            if vendor == "sqlite":
                url = f"sqlite:///{workdir}/bench.sqlite3"
            else:
                url = args.mysql_url
                ensure_mysql_database(url, fresh=True)
            env = lyceum_env(url, "", secrets.token_urlsafe(50))
            env.pop("REDIS_URL")  # in-memory cache and layer: nothing here pushes
            env.update(DJANGO_SETTINGS_MODULE="config.settings", PYTHONPATH="")
            command = [sys.executable, __file__, "--measure", url, "--inserts", str(args.inserts)]
            command += ["--block", str(args.block), "--project", str(args.project.resolve())]
            status |= subprocess.run(command, env=env, cwd=args.project, check=False).returncode
    return status


def measure(args) -> int:
    setup_django(project=args.project)  # DATABASE_URL and the rest: the parent's lyceum_env
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import User
    from chat.models import Conversation, Membership, Message
    from chat.services import send_sql

    people = [
        User.objects.create_user(email=f"bench-{i}-{uuid.uuid4().hex[:8]}@insert.bench", password=None)
        for i in range(2)
    ]
    group = Conversation.objects.create(kind=Conversation.Kind.GROUP, name="insert bench")
    Membership.objects.bulk_create(Membership(conversation=group, user=person) for person in people)

    def orm(conversation, sender, body, now):
        seq = conversation.last_seq + 1
        message = Message.objects.create(
            conversation=conversation, seq=seq, sender=sender, kind=Message.Kind.TEXT, body=body,
            client_id=uuid.uuid4().hex, created_at=now,
        )  # fmt: skip
        Conversation.objects.filter(pk=conversation.pk).update(last_seq=seq, last_message=message, last_message_at=now)
        return message

    def sql(conversation, sender, body, now):
        return send_sql.append_message(
            conversation, sender=sender, kind=Message.Kind.TEXT, body=body, client_id=uuid.uuid4().hex, now=now
        )

    paths = {"orm": orm, "sql": sql}
    walls: dict[str, list[float]] = {name: [] for name in paths}
    cpus: dict[str, float] = dict.fromkeys(paths, 0.0)

    def one(name: str, index: int) -> None:
        sender = people[index % 2]
        with transaction.atomic():
            conversation = Conversation.objects.select_for_update().only("kind", "last_seq").get(pk=group.pk)
            now = timezone.now()
            wall, cpu = time.perf_counter(), time.process_time()
            paths[name](conversation, sender, f"bench message {index}", now)
            walls[name].append(time.perf_counter() - wall)
            cpus[name] += time.process_time() - cpu

    for name in paths:  # warm up: the statements' first build, the connection
        for index in range(20):
            one(name, index)
        walls[name].clear()
        cpus[name] = 0.0
    index = 0
    while min(len(w) for w in walls.values()) < args.inserts:
        for name in paths:
            for _ in range(min(args.block, args.inserts - len(walls[name]))):
                one(name, index)
                index += 1

    seqs = list(Message.objects.filter(conversation=group).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1)), "seq has a gap"
    load = os.getloadavg()[0]
    print(f"{connection.vendor}: {args.inserts} inserts per path, blocks of {args.block}, load {load:.1f}")
    for name in paths:
        w = sorted(walls[name])
        p99 = w[int(0.99 * (len(w) - 1))]
        print(
            f"  {name}: mean {1000 * statistics.fmean(w):.3f} ms  p99 {1000 * p99:.3f} ms"
            f"  cpu {1000 * cpus[name] / len(w):.3f} ms per insert"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
