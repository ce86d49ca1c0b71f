"""Benchmark: the CPU of a live connect's database work, in one process, without the sockets.

    DATABASE_URL=mysql://root@127.0.0.1:3306/lyceum_bench_load .venv/bin/python bench/connect_cpu.py

The hello hop (live.consumer._hello_hop: the credential check and every hello count in one
statement), the same for a connect that brings the user online (plus the socket's presence, in
this process's registry without REDIS_URL, and the presence audience), the audience alone, and the
session's user (live.auth.session_user: session and user, as the handshake reads them), each
timed with time.process_time over USERS users (300, environment), ROUNDS rounds (5), against
the database of DATABASE_URL (users "hb<i>@uni.example", half of them friends in 1-on-1 pairs
with an unread message and two unread notifications, made on the first run; a session each).
Prints the median and every round, per call, in ms of CPU, and the load average.
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main() -> int:
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    from live import access, consumer, presence
    from live import auth as live_auth

    n_users, rounds = int(os.environ.get("USERS", 300)), int(os.environ.get("ROUNDS", 5))
    User = get_user_model()

    def bench_users() -> list:
        return list(User.objects.filter(email__startswith="hb").order_by("pk")[:n_users])

    users = bench_users()
    if len(users) < n_users:
        from chat import services as chat_services
        from chat.tests.factories import UserFactory, befriend, send
        from notifications.tests.factories import NotificationFactory

        new = [UserFactory(email=f"hb{i}@uni.example") for i in range(len(users), n_users)]
        for a, b in zip(new[::2], new[1::2], strict=False):
            befriend(a, b)
            send(b, chat_services.open_direct_conversation(user=b, other=a))
            NotificationFactory.create_batch(2, recipient=a)
        users = bench_users()
    credentials, session_keys = [], []
    for user in users:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        credentials.append(access.session_credential(user=user, session_key=session.session_key))
        session_keys.append(session.session_key)

    def per_call(call, before_round=lambda: None) -> list[float]:
        call(0)  # outside the measurement: what a process builds once
        out = []
        for _ in range(rounds):
            before_round()
            started = time.process_time()
            for i in range(len(users)):
                call(i)
            out.append((time.process_time() - started) / len(users) * 1000)
        return out

    figures = [
        ("hello hop", per_call(lambda i: consumer._hello_hop(credentials[i], users[i]))),
        (
            "hello hop, came online",
            per_call(
                lambda i: consumer._hello_hop(credentials[i], users[i], presence_channel=f"bench.{i}"),
                before_round=presence.reset_local,
            ),
        ),
        ("presence audience", per_call(lambda i: presence.policy().audience(user=users[i]))),
        (
            "session user",
            per_call(lambda i: live_auth.session_user({"session": SessionStore(session_key=session_keys[i])})),
        ),
    ]
    one, five, fifteen = os.getloadavg()
    print(f"load average {one:.1f} / {five:.1f} / {fifteen:.1f}")
    for name, values in figures:
        rounds_text = " ".join(f"{value:.2f}" for value in values)
        print(f"{name}: median {statistics.median(values):.2f} ms CPU per call (rounds: {rounds_text})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
