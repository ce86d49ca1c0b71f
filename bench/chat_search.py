"""Benchmark: chat message search at 1,000,000 messages on MariaDB/MySQL.

    .venv/bin/python bench/chat_search.py            # mysql://root@127.0.0.1:3306/lyceum_bench_chat
    .venv/bin/python bench/chat_search.py --url mysql://root@127.0.0.1:3306/lyceum_bench_chat --messages 1000000

Creates its own database (default `lyceum_bench_chat`, loopback only), migrates it, and loads
once (re-runs reuse the data; --fresh rebuilds): 2,000 students, 20,000 conversations (direct
and groups), and N messages (default 1,000,000) of words drawn from a Zipf-like vocabulary,
with multi-row INSERTs in batches. The FULLTEXT index (migration 0003) is kept up to date
during the load, as in production. The bench user is a member of 120 conversations
that hold a tenth of all messages (a busy user).

Then it times `chat.selectors.search_messages` (newest messages first, then the FULLTEXT
index for older ones) for the bench user — the query the search page
and API run — for frequent, medium and rare words, two-word and prefix searches, each
--repeat times, and prints median and p95 in ms per query and overall, plus the EXPLAIN plan.
With --compare it also times the same searches with the FULLTEXT step off (LIKE only).
"""

import argparse
import collections
import itertools
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BASE_DIR / "bench"))  # run as a file: its neighbours are not a package
from bench_db import database_name, ensure_mysql_database, setup_django  # noqa: E402

DEFAULT_URL = "mysql://root@127.0.0.1:3306/lyceum_bench_chat"
USERS = 2000
CONVERSATIONS = 20_000
BENCH_MEMBERSHIPS = 120
BENCH_SHARE = 0.1
BATCH = 5000
VOCABULARY = 20_000


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--fresh", action="store_true", help="drop the bench database first")
    parser.add_argument("--compare", action="store_true", help="also time LIKE-only (FULLTEXT filter off)")
    args = parser.parse_args()
    host = urlsplit(args.url).hostname or ""
    if not (host in {"localhost", "::1"} or host.startswith("127.")):
        parser.error("the bench runs against a loopback database only")
    if not 1000 <= args.messages <= 5_000_000:
        parser.error("--messages must be between 1,000 and 5,000,000")
    return args


def ensure_database(url: str, fresh: bool) -> None:
    if not database_name(url).startswith("lyceum_bench"):
        raise SystemExit("the bench database name must start with lyceum_bench")
    ensure_mysql_database(url, fresh=fresh)


def vocabulary(rng: random.Random) -> list[str]:
    syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "be", "do", "fa", "gu", "hi", "jo", "pe", "so"]
    words = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    real = ["fourier", "integral", "lecture", "exam", "library", "project", "deadline", "coffee", "notes", "lab"]
    return real + sorted(words)


def load(args) -> None:
    from django.db import connection, transaction

    from accounts.models import User
    from chat.models import Conversation, Membership, Message

    if Message.objects.count() >= args.messages:
        print(f"reusing {Message.objects.count():,} messages")
        return
    rng = random.Random(42)
    words = vocabulary(rng)
    cum_weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(words))))
    started = time.perf_counter()
    with transaction.atomic():
        Message.objects.all().delete()
        Membership.objects.all().delete()
        Conversation.objects.all().delete()
        User.objects.filter(email__endswith="@bench.chat").delete()
        users = User.objects.bulk_create(
            [User(email=f"s{i}@bench.chat", first_name=f"S{i}", last_name="Bench", password="!") for i in range(USERS)],
            batch_size=1000,
        )
        ids = [u.pk for u in users]
        conversations = []
        for i in range(CONVERSATIONS):
            if i % 5:
                a, b = rng.sample(ids, 2)
                low, high = min(a, b), max(a, b)
                conversations.append(Conversation(kind="direct", direct_key=f"{low}:{high}#{i}"[:41]))
            else:
                conversations.append(Conversation(kind="group", name=f"Group {i}"))
        Conversation.objects.bulk_create(conversations, batch_size=2000)
    conv_ids = list(Conversation.objects.order_by("pk").values_list("pk", flat=True))
    bench_user = ids[0]
    mine = set(rng.sample(conv_ids, BENCH_MEMBERSHIPS))
    members = []
    for cid in conv_ids:
        people = set(rng.sample(ids[1:], 2 if cid not in mine else 1))
        if cid in mine:
            people.add(bench_user)
        members += [Membership(conversation_id=cid, user_id=uid) for uid in people]
    Membership.objects.bulk_create(members, batch_size=5000)
    print(f"users, conversations, memberships: {time.perf_counter() - started:.1f}s")

    started = time.perf_counter()
    seqs = dict.fromkeys(conv_ids, 0)
    mine_list = sorted(mine)
    now = datetime.now(UTC).replace(tzinfo=None)
    sql = (
        "INSERT INTO chat_message (conversation_id, seq, sender_id, kind, body, client_id, created_at, "
        "edited_at, deleted_at, change_seq, attachment_count) VALUES "
    )
    row = "(%s,%s,%s,'text',%s,NULL,%s,NULL,NULL,0,0)"
    done = 0
    while done < args.messages:
        n = min(BATCH, args.messages - done)
        values = []
        for k in range(n):
            # A tenth of all messages are in the bench user's conversations (a busy user).
            cid = rng.choice(mine_list) if rng.random() < BENCH_SHARE else rng.choice(conv_ids)
            seqs[cid] += 1
            body = " ".join(rng.choices(words, cum_weights=cum_weights, k=rng.randint(3, 14)))
            created = now - timedelta(seconds=args.messages - done - k)
            values += [cid, seqs[cid], ids[(cid + k) % USERS], body, created]
        with connection.cursor() as cursor:
            cursor.execute(sql + ",".join([row] * n), values)
        done += n
        if done % 100_000 == 0:
            print(f"  {done:,} messages ({time.perf_counter() - started:.0f}s)", flush=True)
    # Seqs of the memberships' conversations; read markers at the head.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE chat_conversation c JOIN (SELECT conversation_id, MAX(seq) s FROM chat_message "
            "GROUP BY conversation_id) m ON m.conversation_id = c.id SET c.last_seq = m.s"
        )
    print(f"{args.messages:,} messages inserted: {time.perf_counter() - started:.1f}s")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE TABLE chat_message, chat_membership, chat_conversation")
        cursor.fetchall()
    print(f"tables analysed: {time.perf_counter() - started:.1f}s")


def _share_of_messages(words) -> dict[str, float]:
    """Each queried word's share of messages, estimated from a 20,000-message sample."""
    from chat.models import Message

    sample = list(Message.objects.order_by("pk").values_list("body", flat=True)[:20000])
    counts = collections.Counter(word for body in sample for word in set(body.split()))
    return {word: counts[word] / len(sample) for word in counts} if sample else {}


def time_searches(user, queries, repeat):
    from chat import selectors

    per_query, everything = {}, []
    for q in queries:
        selectors.search_messages(user=user, q=q)  # warm-up
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            found = selectors.search_messages(user=user, q=q)
            samples.append((time.perf_counter() - started) * 1000)
        per_query[q] = (samples, len(found))
        everything += samples
    return per_query, everything


def p95(samples):
    ordered = sorted(samples)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def report(title, per_query, everything):
    print(title)
    for q, (samples, found) in per_query.items():
        print(f"  {q!r:24} results={found:3}  median={statistics.median(samples):8.2f} ms  p95={p95(samples):8.2f} ms")
    median = statistics.median(everything)
    print(f"  ALL ({len(everything)} searches): median={median:.2f} ms  p95={p95(everything):.2f} ms")


def main():
    args = parse_args()
    ensure_database(args.url, args.fresh)
    setup_django(environ={"DATABASE_URL": args.url})
    from django.db import connection

    from accounts.models import User
    from chat import selectors
    from chat.models import Membership, Message

    load(args)
    user = User.objects.get(email="s0@bench.chat")
    mine = Membership.objects.filter(user=user).values("conversation_id")
    print(
        f"database: {connection.settings_dict['NAME']} ({connection.vendor} {connection.mysql_server_info}); "
        f"{Message.objects.count():,} messages; bench user in {Membership.objects.filter(user=user).count()} "
        f"conversations holding {Message.objects.filter(conversation_id__in=mine).count():,} messages"
    )
    words = vocabulary(random.Random(42))
    share = _share_of_messages(words)
    # Realistic searches: words in ~0.1% to ~3% of messages, two words, a prefix, a miss; plus
    # the vocabulary's most frequent word (in about half of all messages: what real text has
    # only for stopwords, which InnoDB does not index) to show the worst case.
    queries = [words[12], words[60], words[600], words[6000], f"{words[15]} {words[40]}", words[100][:5], "zzzqx"]
    queries.append(words[0])
    for q in queries:
        print(f"  {q!r}: in about {share.get(q, 0):.2%} of messages")
    per_query, everything = time_searches(user, queries, args.repeat)
    report(f"search_messages with FULLTEXT ({args.repeat} runs each):", per_query, everything)
    with connection.cursor() as cursor:
        member_of = (
            "conversation_id IN (SELECT conversation_id FROM chat_membership WHERE user_id = %s AND left_at IS NULL) "
            "AND kind = 'text' AND deleted_at IS NULL"
        )
        newest = Message.objects.order_by("-pk").values_list("pk", flat=True).first()
        floor, against = newest - selectors.search_window(), selectors._fulltext_query([words[600]])
        steps = {
            "step 1, the newest messages (primary-key range)": (
                f"EXPLAIN SELECT id FROM chat_message WHERE {member_of} AND body LIKE %s AND id > %s "
                "ORDER BY id DESC LIMIT 50",
                [user.pk, f"%{words[600]}%", floor],
            ),
            "step 2, older messages (FULLTEXT)": (
                f"EXPLAIN SELECT id FROM chat_message WHERE {member_of} AND body LIKE %s AND id <= %s "
                "AND MATCH (body) AGAINST (%s IN BOOLEAN MODE) ORDER BY id DESC LIMIT 50",
                [user.pk, f"%{words[600]}%", floor, against],
            ),
        }
        for title, (sql, params) in steps.items():
            cursor.execute(sql, params)
            print(f"EXPLAIN {title}:")
            for line in cursor.fetchall():
                print("  ", line)
    if args.compare:
        original = selectors._fulltext_query
        selectors._fulltext_query = lambda terms: ""
        try:
            per_query, everything = time_searches(user, queries, max(3, args.repeat // 3))
            report("search_messages with LIKE only (FULLTEXT filter off):", per_query, everything)
        finally:
            selectors._fulltext_query = original


if __name__ == "__main__":
    main()
