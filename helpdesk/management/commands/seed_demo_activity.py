"""Demo activity on top of `seed_demo`'s accounts: friendships, conversations, experts and help
requests, so a newcomer running `make run` sees every part of Lyceum with something in it.

Lives in helpdesk because it is the top layer (it may use every app's services). Everything
goes through the services, exactly as users would do it. Safe to run again: it does nothing
once the demo friendships exist.
"""

import uuid
import zoneinfo
from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from accounts.models import User
from chat import services as chat_services
from experts import services as expert_services
from experts.models import Category
from helpdesk import services as help_services
from social import services as social_services
from social.models import Friendship

DOMAIN = "lyceum.local"
CATEGORIES = [
    ("Linear Algebra", "Matrices, eigenvalues, vector spaces and proofs."),
    ("Programming", "Python, Java, C, data structures and debugging."),
    ("Academic Writing", "Essays, dissertations, citations and structure."),
    ("Organic Chemistry", "Mechanisms, synthesis and spectroscopy."),
]
FRIENDS = [("amara.okafor", "sofia.marquez"), ("amara.okafor", "lukas.becker"), ("sofia.marquez", "lukas.becker")]
PENDING = [("kenji.watanabe", "amara.okafor")]
DIRECT = [
    ("amara.okafor", "Did you get the compilers assignment to build?"),
    ("sofia.marquez", "Almost! The parser works, the type checker does not :)"),
    ("amara.okafor", "Want to pair on it after the lecture? Library, 4pm?"),
    ("sofia.marquez", "Deal. I'll bring coffee."),
]
GROUP = [
    ("sofia.marquez", "Welcome to the study group! Exam is in three weeks."),
    ("lukas.becker", "I can share my notes on thermodynamics if anyone needs them."),
    ("amara.okafor", "Let's meet Thursdays. @Sofia can you book a room?"),
]


def _evening_slots(user: User, *, days: tuple[int, ...]) -> list[tuple]:
    """18:00 to 21:00 in the user's own zone, that many days from today."""
    zone = zoneinfo.ZoneInfo(user.time_zone)
    today = timezone.localdate(timezone=zone)
    slots = []
    for offset in days:
        start = datetime.combine(today + timedelta(days=offset), time(18), tzinfo=zone)
        slots.append((start, start + timedelta(hours=3)))
    return slots


def _user(local: str) -> User:
    return User.objects.get(email=f"{local}@{DOMAIN}")


class Command(BaseCommand):
    help = "Create demo friendships, conversations, experts and help requests (after seed_demo)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--allow-production", action="store_true", help="Run even with DJANGO_DEBUG=false.")

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError("seed_demo_activity is for demo sites; pass --allow-production to run it anyway.")
        if not User.objects.filter(email=f"amara.okafor@{DOMAIN}").exists():
            raise CommandError("Run `manage.py seed_demo` first: it creates the demo accounts.")
        low, high = Friendship.ordered_ids(_user("amara.okafor").pk, _user("sofia.marquez").pk)
        if Friendship.objects.filter(user_low_id=low, user_high_id=high).exists():
            self.stdout.write("Demo activity already exists; nothing changed.")
            return
        locmem = {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
        quiet_mail = override_settings(MAILERS={"default": locmem})
        with quiet_mail, transaction.atomic():
            self._friends()
            self._chats()
            self._help()
        self.stdout.write(self.style.SUCCESS("Created demo friendships, conversations, experts and help requests."))
        self.stdout.write(f"  expert (queue at /help/queue/): kenji.watanabe@{DOMAIN}")

    def _friends(self) -> None:
        for a, b in FRIENDS:
            sent = social_services.send_friend_request(from_user=_user(a), to_user=_user(b))
            social_services.accept_friend_request(user=_user(b), request_id=sent.friend_request.pk)
        for a, b in PENDING:
            social_services.send_friend_request(
                from_user=_user(a), to_user=_user(b), note="Hi! I saw you in the algorithms seminar."
            )

    def _send(self, conversation_id: int, who: str, body: str) -> None:
        chat_services.send_message(
            sender=_user(who), conversation_id=conversation_id, body=body, client_id=str(uuid.uuid4())
        )

    def _chats(self) -> None:
        direct = chat_services.open_direct_conversation(user=_user("amara.okafor"), other=_user("sofia.marquez"))
        for who, body in DIRECT:
            self._send(direct.pk, who, body)
        group = chat_services.create_group(
            owner=_user("sofia.marquez"),
            name="Exam study group",
            members=[_user("amara.okafor"), _user("lukas.becker")],
        )
        for who, body in GROUP:
            self._send(group.pk, who, body)

    def _help(self) -> None:
        categories = {}
        for name, description in CATEGORIES:
            categories[name], _ = Category.objects.get_or_create(name=name, defaults={"description": description})
        admin = User.objects.filter(is_superuser=True).order_by("pk").first()
        kenji = _user("kenji.watanabe")
        profile = expert_services.apply_as_expert(
            user=kenji,
            headline="Maths PhD student — linear algebra and proofs",
            bio="I tutor first- and second-year maths. Patient with proofs, quick with examples.",
            category_ids=[categories["Linear Algebra"].pk, categories["Programming"].pk],
            languages="English, Japanese",
            availability_note="Weekday evenings (UTC+9) and Saturday mornings.",
        )
        if admin is not None:
            expert_services.approve_expert(profile_id=profile.pk, reviewer=admin, note="Demo expert.")
        amara = _user("amara.okafor")
        help_services.submit_help_request(
            requester=amara,
            category_id=categories["Linear Algebra"].pk,
            title="Diagonalising a 3x3 matrix with a repeated eigenvalue",
            description="My matrix has eigenvalue 2 twice and I cannot tell whether it is diagonalisable. "
            "I attached nothing yet; the exercise is 4.2 in the course notes.",
            slots=_evening_slots(amara, days=(1, 2, 4)),
            times_note="Any weekday evening works too.",
        )
        sofia = _user("sofia.marquez")
        accepted = help_services.submit_help_request(
            requester=sofia,
            category_id=categories["Programming"].pk,
            title="Recursive descent parser loops forever",
            description="My parser for arithmetic expressions never returns on '1 - 2 - 3'. Left recursion?",
            slots=_evening_slots(sofia, days=(1, 3)),
        )
        if admin is not None:
            # Accept and schedule in one step, in the first of the requester's times.
            start = accepted.slots.order_by("start").first().start
            help_services.accept_help_request(
                expert=kenji, request_id=accepted.public_id, start=start, end=start + timedelta(minutes=45)
            )
