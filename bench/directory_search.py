"""Benchmark: directory search at 100,000 students.

    .venv/bin/python bench/directory_search.py                 # SQLite file $TMPDIR/lyceum-bench-directory.sqlite3
    DATABASE_URL=mysql://root@127.0.0.1:3306/lyceum_bench .venv/bin/python bench/directory_search.py

Creates the students once (bulk_create; re-runs reuse them), gives the viewer some friends and
pending requests so the relationship annotations have work to do, then times what the
directory page runs — `social.selectors.search_directory` paginated (the count and one page of
20, relationships included) — for searches by university + course and by name prefix.
Prints median and p95 in ms, the number of queries per page, and the EXPLAIN plan of the page
query, to show which index serves it. Options: --users N, --repeat N, --fresh (rebuild),
--proposed-indexes (add, in the bench database only, the indexes proposed for accounts.User so
name search is indexed too: first_name and last_name on MySQL/MariaDB, whose case-insensitive
collation lets LIKE 'abc%' use them; on SQLite the same columns plus university/course with
COLLATE NOCASE, the only collation SQLite's LIKE optimisation accepts).
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{Path(tempfile.gettempdir()) / 'lyceum-bench-directory.sqlite3'}")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.core.paginator import Paginator  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts import services as account_services  # noqa: E402
from accounts.models import User  # noqa: E402
from social import selectors  # noqa: E402
from social.models import Block, FriendRequest, Friendship  # noqa: E402

UNIVERSITIES = [
    f"University of {city}"
    for city in [
        "Bologna",
        "Padua",
        "Pisa",
        "Turin",
        "Milan",
        "Naples",
        "Florence",
        "Rome",
        "Genoa",
        "Trieste",
        "Siena",
        "Parma",
        "Pavia",
        "Bari",
        "Catania",
        "Palermo",
        "Verona",
        "Trento",
        "Udine",
        "Perugia",
        "Ferrara",
        "Modena",
        "Salerno",
        "Cagliari",
        "Sassari",
        "Messina",
        "Lecce",
        "Urbino",
        "Macerata",
        "Camerino",
        "Bergamo",
        "Brescia",
        "Insubria",
        "Foggia",
        "Teramo",
        "Molise",
        "Basilicata",
        "Calabria",
        "Sannio",
        "Cassino",
        "Tuscia",
        "Chieti",
        "Aquila",
        "Ancona",
        "Venice",
        "Bolzano",
        "Enna",
        "Reggio",
        "Varese",
        "Como",
    ]
]
COURSES = [
    f"{field} {level}"
    for field in [
        "Computer Engineering",
        "Physics",
        "Mathematics",
        "Law",
        "Medicine",
        "Economics",
        "Philosophy",
        "History",
        "Chemistry",
        "Biology",
        "Architecture",
        "Psychology",
        "Statistics",
        "Literature",
        "Music",
        "Design",
        "Nursing",
        "Geology",
        "Astronomy",
        "Linguistics",
    ]
    for level in ("BSc", "MSc")
]
FIRST = [
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Marie",
    "Niels",
    "Emmy",
    "Kurt",
    "Rosalind",
    "Enrico",
    "Rita",
    "Maria",
    "Carlo",
    "Giulia",
    "Luca",
    "Sofia",
    "Marco",
    "Anna",
    "Paolo",
    "Elena",
    "Matteo",
    "Chiara",
    "Davide",
    "Sara",
    "Andrea",
    "Laura",
    "Simone",
    "Marta",
    "Stefano",
    "Francesca",
    "Giorgio",
    "Valentina",
    "Fabio",
    "Alessia",
    "Riccardo",
    "Federica",
    "Tommaso",
    "Beatrice",
    "Lorenzo",
    "Martina",
    "Hedy",
    "Barbara",
    "Tim",
    "Ken",
    "Dennis",
    "Margaret",
    "Edsger",
    "John",
]
LAST = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Curie",
    "Bohr",
    "Noether",
    "Godel",
    "Franklin",
    "Fermi",
    "Levi",
    "Montessori",
    "Rubbia",
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Romano",
    "Colombo",
    "Ricci",
    "Marino",
    "Greco",
    "Bruno",
    "Gallo",
    "Conti",
    "DeLuca",
    "Mancini",
    "Costa",
    "Giordano",
    "Rizzo",
    "Lombardi",
    "Moretti",
    "Barbieri",
    "Fontana",
    "Santoro",
    "Mariani",
    "Rinaldi",
    "Caruso",
    "Ferrara",
    "Galli",
    "Martini",
    "Leone",
    "Longo",
    "Gentile",
    "Martinelli",
    "Vitale",
    "Lombardo",
    "Serra",
    "Coppola",
    "DeSantis",
    "Lamarr",
    "Liskov",
    "Berners",
    "Thompson",
    "Ritchie",
    "Hamilton",
]
INTERESTS = [
    "robotics",
    "jazz",
    "chess",
    "rowing",
    "hiking",
    "cinema",
    "photography",
    "climbing",
    "poetry",
    "startups",
    "gaming",
    "cooking",
]
PAGE_SIZE = 20


def build(n_users: int, *, seed: int = 42) -> User:
    """Create n_users students (plus the viewer) unless they are already there."""
    rng = random.Random(seed)
    existing = User.objects.count()
    if existing >= n_users + 1:
        print(f"reusing {existing:,} users")
        return User.objects.get(email="viewer@bench.example")
    if existing:
        sys.exit(f"{existing:,} users exist but {n_users + 1:,} are wanted: run with --fresh")
    started = time.perf_counter()
    viewer = User(
        email="viewer@bench.example",
        first_name="Vera",
        last_name="Viewer",
        university=UNIVERSITIES[0],
        course=COURSES[0],
        password="!",
    )
    viewer.save()
    batch: list[User] = []
    for i in range(n_users):
        batch.append(
            User(
                email=f"student{i}@bench.example",
                first_name=rng.choice(FIRST),
                last_name=rng.choice(LAST),
                university=rng.choice(UNIVERSITIES),
                course=rng.choice(COURSES),
                interests=", ".join(rng.sample(INTERESTS, 3)),
                password="!",  # unusable: no hashing cost
            )
        )
        if len(batch) == 5000:
            User.objects.bulk_create(batch)
            batch.clear()
    User.objects.bulk_create(batch)
    # The viewer's circle: friends, requests both ways and a block among their classmates, so
    # the relationship annotations and exclusions are exercised.
    classmates = list(
        User.objects.filter(university=viewer.university, course=viewer.course)
        .exclude(pk=viewer.pk)
        .values_list("pk", flat=True)
    )
    others = rng.sample(range(viewer.pk + 1, viewer.pk + n_users), 300)
    pool = classmates[:30] + others
    Friendship.objects.bulk_create(
        [Friendship(user_low_id=min(viewer.pk, pk), user_high_id=max(viewer.pk, pk)) for pk in pool[:150]]
    )
    FriendRequest.objects.bulk_create([FriendRequest(from_user=viewer, to_user_id=pk) for pk in pool[150:200]])
    FriendRequest.objects.bulk_create([FriendRequest(from_user_id=pk, to_user=viewer) for pk in pool[200:250]])
    Block.objects.bulk_create([Block(blocker=viewer, blocked_id=pk) for pk in pool[250:260]])
    print(f"created {n_users + 1:,} users in {time.perf_counter() - started:.1f} s")
    return viewer


PROPOSED_INDEXES = {
    "mysql": [
        "CREATE INDEX bench_user_first_name_idx ON accounts_user (first_name)",
        "CREATE INDEX bench_user_last_name_idx ON accounts_user (last_name)",
    ],
    "sqlite": [
        "CREATE INDEX IF NOT EXISTS bench_user_uni_course_nocase_idx ON accounts_user "
        "(university COLLATE NOCASE, course COLLATE NOCASE)",
        "CREATE INDEX IF NOT EXISTS bench_user_first_name_nocase_idx ON accounts_user (first_name COLLATE NOCASE)",
        "CREATE INDEX IF NOT EXISTS bench_user_last_name_nocase_idx ON accounts_user (last_name COLLATE NOCASE)",
    ],
}


def add_proposed_indexes() -> None:
    with connection.cursor() as cursor:
        existing = set(connection.introspection.get_constraints(cursor, "accounts_user"))
        for sql in PROPOSED_INDEXES[connection.vendor]:
            name = sql.split(" ON ")[0].split()[-1]
            if name not in existing:
                cursor.execute(sql)
    print(
        "proposed indexes present: "
        + ", ".join(s.split(" ON ")[0].split()[-1] for s in PROPOSED_INDEXES[connection.vendor])
    )


def page_of(viewer: User, **filters):
    page = Paginator(selectors.search_directory(viewer=viewer, **filters), PAGE_SIZE).get_page(1)
    return [(p.pk, p.relationship, p.sent_request_id, p.received_request_id) for p in page.object_list], page


def measure(label: str, viewer: User, cases: list[dict], repeat: int) -> None:
    timings = []
    counts = []
    results = []
    for _ in range(repeat):
        for filters in cases:
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                _rows, page = page_of(viewer, **filters)
                timings.append((time.perf_counter() - started) * 1000)
            counts.append(len(queries))
            results.append(page.paginator.count)
    timings.sort()
    p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
    print(
        f"{label:<34} runs={len(timings):<4} median={statistics.median(timings):7.2f} ms  p95={p95:7.2f} ms  "
        f"queries/page={max(counts)}  matches/search≈{statistics.median(results):.0f}"
    )


def explain(label: str, viewer: User, **filters) -> None:
    queryset = selectors.search_directory(viewer=viewer, **filters)[:PAGE_SIZE]
    print(f"\nEXPLAIN ({connection.vendor}) — {label}:")
    for line in queryset.explain().splitlines():
        print("   ", line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5, help="passes over the search cases")
    parser.add_argument("--fresh", action="store_true", help="drop the bench data and build it again")
    parser.add_argument("--proposed-indexes", action="store_true", help="add the indexes proposed for accounts.User")
    args = parser.parse_args()

    db = connection.settings_dict
    print(f"database: {connection.vendor} {db['NAME']}")
    if args.fresh:
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", interactive=False, verbosity=0)
    with transaction.atomic():
        viewer = build(args.users)
        # The lists the directory's filters match against (sign-up adds them; bulk_create does not).
        for university in UNIVERSITIES:
            for course in COURSES:
                account_services.list_study_names(university=university, course=course)
    if args.proposed_indexes:
        add_proposed_indexes()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE TABLE accounts_user, social_friendship, social_friendrequest, social_block")

    rng = random.Random(7)
    by_course = [
        {"university": u.lower(), "course": c.upper()}  # any letter case, as typed
        for u, c in zip(rng.sample(UNIVERSITIES, 20), rng.sample(COURSES, 20), strict=True)
    ]
    by_course.insert(0, {"university": viewer.university, "course": viewer.course})
    by_university = [{"university": u} for u in rng.sample(UNIVERSITIES, 10)]
    by_part_of_university = [{"university": u.split()[-1].lower()[:5]} for u in rng.sample(UNIVERSITIES, 10)]
    by_name = [{"q": name[:3].lower()} for name in rng.sample(LAST, 10)]
    by_full_name = [
        {"q": f"{f} {last[:2]}"} for f, last in zip(rng.sample(FIRST, 10), rng.sample(LAST, 10), strict=True)
    ]
    combined = [{"university": UNIVERSITIES[0], "q": "mar", "interests": "jazz"}]

    for filters in (by_course[0], by_name[0]):  # warm the caches once
        page_of(viewer, **filters)
    print(f"\nsearch_directory, one page of {PAGE_SIZE} with relationships (count + page):")
    measure("university + course", viewer, by_course, args.repeat)
    measure("university only", viewer, by_university, args.repeat)
    measure("part of a university's name", viewer, by_part_of_university, args.repeat)
    measure("name prefix (3 letters)", viewer, by_name, args.repeat)
    measure("first name + last-name prefix", viewer, by_full_name, args.repeat)
    measure("university + name + interest", viewer, combined, args.repeat * 10)

    explain("university + course", viewer, **by_course[0])
    explain("part of a university's name", viewer, **by_part_of_university[0])
    explain("name prefix", viewer, **by_name[0])


if __name__ == "__main__":
    main()
