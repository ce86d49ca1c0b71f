"""Benchmark: the expert queue page with 50,000 help requests.

    .venv/bin/python bench/helpdesk_queue.py            # SQLite file $TMPDIR/lyceum-bench-helpdesk.sqlite3
    DATABASE_URL=mysql://root@127.0.0.1:3306/lyceum_bench_helpdesk .venv/bin/python bench/helpdesk_queue.py

(On MySQL/MariaDB create the database once: `CREATE DATABASE lyceum_bench_helpdesk CHARACTER SET
utf8mb4 COLLATE utf8mb4_unicode_ci`. Never point it at a database you care about: --fresh
flushes it.)

Builds once (bulk_create; re-runs reuse the data, --fresh rebuilds): 20 categories, 2,000
requesters, 50,000 requests spread over two years (30% still open, the rest accepted,
scheduled, completed, cancelled or expired), one document on every third request, and one
verified expert in 4 categories. Then times what the queue page runs:

- `helpdesk.selectors.queue_page` (what the page calls: the count, one page of 20 ids, those
  20 rows with their joins), per filter;
- the whole page through Django's test client (middleware, session, template), per filter;

and prints median and p95 in ms, queries per page, and the EXPLAIN of the page query.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{Path(tempfile.gettempdir()) / 'lyceum-bench-helpdesk.sqlite3'}")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from experts.models import Category, ExpertProfile  # noqa: E402
from helpdesk import selectors  # noqa: E402
from helpdesk.models import HelpDocument, HelpRequest, HelpRequestStatus  # noqa: E402

PAGE_SIZE = 20
N_CATEGORIES = 20
N_REQUESTERS = 2_000
EXPERT_EMAIL = "bench-expert@example.org"
WORDS = [
    "matrix",
    "eigenvalue",
    "integral",
    "derivative",
    "proof",
    "induction",
    "limit",
    "series",
    "vector",
    "tensor",
    "entropy",
    "enthalpy",
    "reaction",
    "titration",
    "polymer",
    "genome",
    "protein",
    "neuron",
    "circuit",
    "voltage",
    "transistor",
    "compiler",
    "pointer",
    "recursion",
    "graph",
    "tree",
    "queue",
    "stack",
    "hash",
    "sorting",
    "algorithm",
    "database",
    "index",
]
S = HelpRequestStatus
STATUS_MIX = (
    [S.OPEN] * 30 + [S.COMPLETED] * 40 + [S.CANCELLED] * 12 + [S.EXPIRED] * 12 + [S.ACCEPTED] * 3 + [S.SCHEDULED] * 3
)


def build(n_requests: int, *, seed: int = 42) -> User:
    existing = HelpRequest.objects.count()
    expert = User.objects.filter(email=EXPERT_EMAIL).first()
    if existing == n_requests and expert is not None:
        print(f"reusing {existing:,} help requests")
        return expert
    if existing:
        sys.exit(f"{existing:,} help requests exist but {n_requests:,} are wanted: run with --fresh")
    rng = random.Random(seed)
    started = time.perf_counter()
    categories = Category.objects.bulk_create(
        [Category(name=f"Bench subject {i:02d}", slug=f"bench-subject-{i:02d}") for i in range(N_CATEGORIES)]
    )
    requesters = User.objects.bulk_create(
        [
            User(email=f"bench-student{i}@example.org", first_name=f"Student{i}", last_name="Bench", password="!")
            for i in range(N_REQUESTERS)
        ],
        batch_size=1000,
    )
    helpers = User.objects.bulk_create(
        [
            User(email=f"bench-helper{i}@example.org", first_name=f"Helper{i}", last_name="Bench", password="!")
            for i in range(50)
        ]
    )
    expert = User.objects.create(email=EXPERT_EMAIL, first_name="Grace", last_name="Bench", password="!")
    profile = ExpertProfile.objects.create(
        user=expert, headline="Bench expert", bio="-", status=ExpertProfile.Status.APPROVED, max_active_requests=10
    )
    profile.categories.set(categories[:4])
    if connection.vendor == "mysql":  # bulk_create returns no ids on MySQL
        requesters = list(User.objects.filter(email__startswith="bench-student"))
        helpers = list(User.objects.filter(email__startswith="bench-helper"))
        categories = list(Category.objects.filter(slug__startswith="bench-subject"))

    created_field = HelpRequest._meta.get_field("created_at")
    created_field.auto_now_add = False  # bench data only: spread over two years
    now = timezone.now()
    try:
        batch = []
        for _i in range(n_requests):
            status = rng.choice(STATUS_MIX)
            title_words = rng.sample(WORDS, 4)
            held = status in (S.ACCEPTED, S.SCHEDULED, S.COMPLETED)
            batch.append(
                HelpRequest(
                    requester=rng.choice(requesters),
                    category=rng.choice(categories),
                    title=" ".join(title_words).capitalize(),
                    description=" ".join(rng.choices(WORDS, k=40)),
                    times_note="Weekdays after 18:00",
                    status=status,
                    expert=rng.choice(helpers) if held else None,
                    created_at=now - timedelta(minutes=rng.randint(1, 2 * 365 * 24 * 60)),
                )
            )
            if len(batch) == 2000:
                HelpRequest.objects.bulk_create(batch)
                batch = []
        HelpRequest.objects.bulk_create(batch)
    finally:
        created_field.auto_now_add = True
    ids = list(HelpRequest.objects.values_list("pk", flat=True)[::3])
    HelpDocument.objects.bulk_create(
        [
            HelpDocument(
                request_id=pk,
                original_name="notes.pdf",
                content_type="application/pdf",
                size=1000,
                file=f"helpdesk/bench/{pk}.bin",
                sha256="0" * 64,
            )
            for pk in ids
        ],
        batch_size=2000,
    )
    print(f"built {n_requests:,} help requests and {len(ids):,} documents in {time.perf_counter() - started:.1f} s")
    return expert


def summary(label: str, timings: list[float], counts: list[int], extra: str = "") -> None:
    timings = sorted(timings)
    p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
    print(
        f"{label:<38} runs={len(timings):<4} median={statistics.median(timings):7.2f} ms  p95={p95:7.2f} ms  "
        f"queries={max(counts)}{extra}"
    )


def measure_selector(label: str, expert: User, repeat: int, page: int = 1, **filters) -> None:
    timings, counts, sizes = [], [], []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            page_obj = selectors.queue_page(expert_user=expert, page_number=page, per_page=PAGE_SIZE, **filters)
            rows = [(r.pk, r.category.name, r.requester.get_full_name(), r.document_count) for r in page_obj]
            timings.append((time.perf_counter() - started) * 1000)
        counts.append(len(queries))
        sizes.append(page_obj.paginator.count)
    summary(label, timings, counts, f"  rows={len(rows)}  open in queue={sizes[0]:,}")


def measure_page(label: str, client: Client, repeat: int, query: dict) -> None:
    timings, counts = [], []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get("/help/queue/", query)
            timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
        counts.append(len(queries))
    summary(label, timings, counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--fresh", action="store_true", help="drop the bench data and build it again")
    args = parser.parse_args()

    db = connection.settings_dict
    print(f"database: {connection.vendor} {db['NAME']}")
    if args.fresh:
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", interactive=False, verbosity=0)
    with transaction.atomic():
        expert = build(args.requests)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("ANALYZE")
        else:
            cursor.execute(
                "ANALYZE TABLE helpdesk_helprequest, helpdesk_helpdocument, experts_expertprofile_categories"
            )

    slug = Category.objects.filter(slug="bench-subject-01").values_list("slug", flat=True).first()
    print(f"\nqueue_page: count + one page of {PAGE_SIZE} (expert in 4 of {N_CATEGORIES} categories):")
    measure_selector("all my categories, page 1", expert, args.repeat)
    measure_selector("all my categories, page 50", expert, args.repeat, page=50)
    measure_selector("one category", expert, args.repeat, category_slug=slug)
    measure_selector("search 'matrix proof'", expert, args.repeat, q="matrix proof")

    settings.ALLOWED_HOSTS = ["testserver"]
    client = Client()
    client.force_login(expert)
    client.get("/help/queue/")  # warm up templates
    print("\nGET /help/queue/ (whole page: session, user, template, pagination):")
    measure_page("all my categories", client, args.repeat, {})
    measure_page("page 50", client, args.repeat, {"page": 50})
    measure_page("one category", client, args.repeat, {"category": slug})
    measure_page("search 'matrix proof'", client, args.repeat, {"q": "matrix proof"})

    queryset = selectors._open_in_queue(expert_user=expert, category_slug=None, q="").values_list("pk", flat=True)
    print(f"\nEXPLAIN ({connection.vendor}) — the page's id query:")
    for line in queryset[:PAGE_SIZE].explain().splitlines():
        print("   ", line)


if __name__ == "__main__":
    main()
