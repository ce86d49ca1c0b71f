"""Demo data for `make run`: a staff superuser and a handful of students with notifications.

Idempotent: an account that already exists (any letter case of its address) is left exactly as
it is, and its notifications are only created together with it, so a second run changes
nothing. Students are created through the same services as a real sign-up.
"""

import contextlib
from dataclasses import dataclass

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.test.utils import override_settings
from django.urls import reverse

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import User
from notifications import services as notification_services
from notifications.models import NotificationKind

DEMO_PASSWORD = "lyceum-demo-2026"
ADMIN_EMAIL = "admin@lyceum.local"


@dataclass(frozen=True)
class DemoStudent:
    email: str
    first_name: str
    last_name: str
    university: str
    course: str
    bio: str
    interests: str
    time_zone: str


STUDENTS = [
    DemoStudent(
        "amara.okafor@lyceum.local",
        "Amara",
        "Okafor",
        "Northbridge University",
        "Computer Science",
        "Second-year CS student. I like compilers more than is healthy and I run the Friday code dojo.",
        "compilers, rust, chess, jazz",
        "Europe/London",
    ),
    DemoStudent(
        "lukas.becker@lyceum.local",
        "Lukas",
        "Becker",
        "Northbridge University",
        "Mechanical Engineering",
        "Building a solar car with the university team. Ask me about CAD or bad coffee.",
        "robotics, cycling, 3d printing",
        "Europe/Berlin",
    ),
    DemoStudent(
        "sofia.marquez@lyceum.local",
        "Sofía",
        "Márquez",
        "Northbridge University",
        "Computer Science",
        "Interested in machine learning for medicine. Looking for a study partner for linear algebra.",
        "machine learning, climbing, photography",
        "Europe/Madrid",
    ),
    DemoStudent(
        "kenji.watanabe@lyceum.local",
        "Kenji",
        "Watanabe",
        "Riverside Institute of Technology",
        "Mathematics",
        "Number theory and puzzles. I tutor first-years in calculus on Tuesdays.",
        "number theory, go, piano",
        "Asia/Tokyo",
    ),
    DemoStudent(
        "priya.nair@lyceum.local",
        "Priya",
        "Nair",
        "Riverside Institute of Technology",
        "Medicine",
        "Fourth-year medic, currently on a cardiology placement. Happy to share anatomy notes.",
        "cardiology, running, baking",
        "Asia/Kolkata",
    ),
    DemoStudent(
        "noah.williams@lyceum.local",
        "Noah",
        "Williams",
        "St Aldric College",
        "History",
        "Writing my dissertation on medieval trade routes. Board games every Sunday.",
        "medieval history, board games, podcasts",
        "America/New_York",
    ),
]


class Command(BaseCommand):
    help = "Create demo users (known password) and notifications. Safe to run again: it changes nothing then."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Run even with DJANGO_DEBUG=false (a demo or staging site only).",
        )
        parser.add_argument(
            "--send-email",
            action="store_true",
            help="Deliver the demo notifications' e-mails through the configured mailer. By default "
            "they go to an in-memory outbox, so `make run` does not print dozens of e-mails.",
        )

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError(
                "seed_demo creates a superuser with a published password; it refuses to run with "
                "DJANGO_DEBUG=false. Pass --allow-production if this really is a throw-away site."
            )
        # With eager Celery (no broker) the e-mails are sent in this process at commit; a worker
        # (REDIS_URL set) sends them with its own mailer either way.
        quiet_mail = override_settings(
            MAILERS={"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
        )
        with contextlib.nullcontext() if options["send_email"] else quiet_mail, transaction.atomic():
            created = [ADMIN_EMAIL] if self._ensure_admin() else []
            created += [student.email for student in STUDENTS if self._ensure_student(student)]

        if created:
            self.stdout.write(self.style.SUCCESS(f"Created {len(created)} demo account(s)."))
        else:
            self.stdout.write("Demo accounts already exist; nothing changed.")
        self.stdout.write("")
        self.stdout.write(f"  staff (admin at /admin/): {ADMIN_EMAIL}")
        for student in STUDENTS:
            self.stdout.write(f"  student: {student.email:<30} {student.university}, {student.course}")
        self.stdout.write(f"  password for every demo account: {DEMO_PASSWORD}")

    def _ensure_admin(self) -> bool:
        if account_selectors.email_in_use(email=ADMIN_EMAIL):
            return False
        # Staff accounts do not come from sign-up; this is what `createsuperuser` does.
        User.objects.create_superuser(ADMIN_EMAIL, DEMO_PASSWORD, first_name="Lyceum", last_name="Admin")
        return True

    def _ensure_student(self, student: DemoStudent) -> bool:
        if account_selectors.email_in_use(email=student.email):
            return False
        user = account_services.register_user(
            email=student.email,
            password=DEMO_PASSWORD,
            first_name=student.first_name,
            last_name=student.last_name,
            university=student.university,
            course=student.course,
        )
        # Demo students read their mail: confirmed, as if they had followed the sign-up link.
        account_services.mark_email_verified(user=user)
        notification_services.mark_read_for_subject(user=user, subject=reverse("accounts:email"))
        account_services.update_profile(
            user=user, bio=student.bio, interests=student.interests, time_zone=student.time_zone
        )
        classmates = sum(
            1 for other in STUDENTS if (other.university, other.course) == (student.university, student.course)
        )
        others = {1: "No one else studies", 2: "1 other student studies"}.get(
            classmates, f"{classmates - 1} other students study"
        )
        announcement = notification_services.notify(
            recipient=user,
            kind=NotificationKind.SYSTEM,
            title="Stuck? Ask an expert",
            body="Verified experts answer help requests and meet you in Microsoft Teams: see Get help.",
        )
        notification_services.notify(
            recipient=user,
            kind=NotificationKind.SYSTEM,
            title=f"{others} {student.course} at {student.university} on Lyceum",
            body="Complete your profile so classmates with the same interests can find you.",
            url=user.get_absolute_url(),
        )
        # A mix of read and unread, as a real account would have.
        notification_services.mark_read(user=user, notification_id=announcement.pk)
        return True
