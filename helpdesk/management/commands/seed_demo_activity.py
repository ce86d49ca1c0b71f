"""Demo activity on top of `seed_demo`'s accounts: friendships, conversations, experts and help
requests, so a newcomer running `make run` sees every part of Lyceum with something in it.

Lives in helpdesk because it is the top layer (it may use every app's services). Everything
goes through the services, exactly as users would do it.

Safe to run again after the demo has been used, as `make run` does on every start: each item
is got or created on its own. What is there (in whatever state the demo's users left it: an
accepted request, a deleted message, a cancelled help request) is kept; what is missing is
created again (an unfriended demo friend becomes a friend again). An item the services refuse
(a block between the two students, a member who left the group) is left as it is and named in
the output; it never stops the command, so the site always starts.
"""

import contextlib
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Q
from django.test.utils import override_settings
from django.utils import timezone

from accounts.models import User
from chat import services as chat_services
from chat.models import Conversation, Message
from config.refusals import Refusal
from experts import services as expert_services
from experts.models import Category, ExpertProfile
from helpdesk import services as help_services
from helpdesk.models import HelpRequest
from social import selectors as social_selectors
from social import services as social_services
from social.models import FriendRequest, Friendship

DOMAIN = "lyceum.local"
CATEGORIES = [
    ("Linear Algebra", "Matrices, eigenvalues, vector spaces and proofs."),
    ("Programming", "Python, Java, C, data structures and debugging."),
    ("Academic Writing", "Essays, dissertations, citations and structure."),
    ("Organic Chemistry", "Mechanisms, synthesis and spectroscopy."),
]
FRIENDS = [("amara.okafor", "sofia.marquez"), ("amara.okafor", "lukas.becker"), ("sofia.marquez", "lukas.becker")]
PENDING = [("kenji.watanabe", "amara.okafor", "Hi! I saw you in the algorithms seminar.")]
DIRECT = [
    ("amara.okafor", "Did you get the compilers assignment to build?"),
    ("sofia.marquez", "Almost! The parser works, the type checker does not :)"),
    ("amara.okafor", "Want to pair on it after the lecture? Library, 4pm?"),
    ("sofia.marquez", "Deal. I'll bring coffee."),
]
GROUP_NAME = "Exam study group"
GROUP = [
    ("sofia.marquez", "Welcome to the study group! Exam is in three weeks."),
    ("lukas.becker", "I can share my notes on thermodynamics if anyone needs them."),
    ("amara.okafor", "Let's meet Thursdays. @Sofia can you book a room?"),
]
OPEN_REQUEST = "Diagonalising a 3x3 matrix with a repeated eigenvalue"
SCHEDULED_REQUEST = "Recursive descent parser loops forever"
# What the services refuse with: a rule's answer (every app's is a Refusal), not a bug; or a
# thing that is not there (any more). Such an item is left as it is.
REFUSALS = (Refusal, PermissionDenied, ObjectDoesNotExist)
# Each demo message has a fixed client id, so sending it again returns the stored one (even
# after its author deleted it) instead of a copy.
CLIENT_IDS = uuid.UUID("5f0c3c57-6a43-4a55-9d1e-6c1e0de70001")


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


def _client_id(kind: str, index: int) -> str:
    return str(uuid.uuid5(CLIENT_IDS, f"{kind}:{index}"))


class Command(BaseCommand):
    help = (
        "Create the demo's friendships, conversations, experts and help requests (after seed_demo). "
        "Safe to run again: each item is got or created."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--allow-production", action="store_true", help="Run even with DJANGO_DEBUG=false.")

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError("seed_demo_activity is for demo sites; pass --allow-production to run it anyway.")
        if not User.objects.filter(email=f"amara.okafor@{DOMAIN}").exists():
            raise CommandError("Run `manage.py seed_demo` first: it creates the demo accounts.")
        self.created: list[str] = []
        self.kept: list[str] = []
        locmem = {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
        with override_settings(MAILERS={"default": locmem}), transaction.atomic():
            self._friends()
            self._chats()
            self._help()
        if self.created:
            self.stdout.write(
                self.style.SUCCESS(f"Created {len(self.created)} demo item(s): {'; '.join(self.created)}.")
            )
        else:
            self.stdout.write("Demo activity already exists; nothing changed.")
        for note in self.kept:
            self.stdout.write(f"  left as it is: {note}")
        self.stdout.write(f"  expert (queue at /help/queue/): kenji.watanabe@{DOMAIN}")

    @contextlib.contextmanager
    def _item(self, name: str) -> Iterator[None]:
        """One demo item in its own savepoint: a refusal undoes only this item and is reported."""
        try:
            with transaction.atomic():
                yield
        except REFUSALS as refusal:
            message = "; ".join(getattr(refusal, "messages", None) or [str(refusal)])
            self.kept.append(f"{name} ({message})")

    def _ensure(self, name: str, exists: Callable[[], bool], create: Callable[[], object]) -> None:
        with self._item(name):
            if not exists():
                create()
                self.created.append(name)

    # --- friends ---------------------------------------------------------------------------------

    def _friends(self) -> None:
        for a, b in FRIENDS:
            self._ensure(f"{a} and {b} are friends", lambda a=a, b=b: _friends(a, b), lambda a=a, b=b: _befriend(a, b))
        for a, b, note in PENDING:
            self._ensure(
                f"{a} asked {b} to be friends",
                lambda a=a, b=b: _friends(a, b) or _pending(a, b),
                lambda a=a, b=b, note=note: social_services.send_friend_request(
                    from_user=_user(a), to_user=_user(b), note=note
                ),
            )

    # --- chat ------------------------------------------------------------------------------------

    def _chats(self) -> None:
        direct: Conversation | None = None
        with self._item("the direct chat of amara.okafor and sofia.marquez"):
            direct = chat_services.open_direct_conversation(user=_user("amara.okafor"), other=_user("sofia.marquez"))
        if direct is not None:
            self._messages("direct", direct, DIRECT)
        group = self._group()
        if group is not None:
            self._messages("group", group, GROUP)

    def _group(self) -> Conversation | None:
        sofia = _user("sofia.marquez")
        first = Message.objects.filter(sender=sofia, client_id=_client_id("group", 0)).select_related("conversation")
        group = next((message.conversation for message in first), None) or (
            Conversation.objects.filter(kind=Conversation.Kind.GROUP, name=GROUP_NAME, created_by=sofia)
            .order_by("pk")
            .first()
        )
        if group is not None:
            return group
        with self._item(f"the group {GROUP_NAME!r}"):
            group = chat_services.create_group(
                owner=sofia, name=GROUP_NAME, members=[_user("amara.okafor"), _user("lukas.becker")]
            )
            self.created.append(f"the group {GROUP_NAME!r}")
        return group

    def _messages(self, kind: str, conversation: Conversation, messages: list[tuple[str, str]]) -> None:
        for index, (who, body) in enumerate(messages):
            sender = _user(who)
            client_id = _client_id(kind, index)
            self._ensure(
                f"{who}'s {kind} message {index + 1}",
                # The same text already there (also from an earlier version of this command,
                # which used random client ids), or this item's client id (also when deleted).
                lambda sender=sender, body=body, client_id=client_id: Message.objects.filter(
                    Q(body=body) | Q(client_id=client_id), conversation=conversation, sender=sender
                ).exists(),
                lambda sender=sender, body=body, client_id=client_id: chat_services.send_message(
                    sender=sender, conversation_id=conversation.pk, body=body, client_id=client_id
                ),
            )

    # --- expert help -----------------------------------------------------------------------------

    def _help(self) -> None:
        categories = {}
        for name, description in CATEGORIES:
            categories[name], _ = Category.objects.get_or_create(name=name, defaults={"description": description})
        admin = User.objects.filter(is_superuser=True).order_by("pk").first()
        kenji = _user("kenji.watanabe")
        self._ensure(
            "kenji.watanabe's expert application",
            lambda: ExpertProfile.objects.filter(user=kenji).exists(),
            lambda: expert_services.apply_as_expert(
                user=kenji,
                headline="Maths PhD student — linear algebra and proofs",
                bio="I tutor first- and second-year maths. Patient with proofs, quick with examples.",
                category_ids=[categories["Linear Algebra"].pk, categories["Programming"].pk],
                languages="English, Japanese",
                availability_note="Weekday evenings (UTC+9) and Saturday mornings.",
            ),
        )
        profile = ExpertProfile.objects.filter(user=kenji).first()
        if admin is not None and profile is not None:
            self._ensure(
                "kenji.watanabe approved as an expert",
                lambda: profile.status != ExpertProfile.Status.PENDING,
                lambda: expert_services.approve_expert(profile_id=profile.pk, reviewer=admin, note="Demo expert."),
            )
        amara, sofia = _user("amara.okafor"), _user("sofia.marquez")
        self._ensure(
            f"amara.okafor's help request {OPEN_REQUEST!r}",
            lambda: HelpRequest.objects.filter(requester=amara, title=OPEN_REQUEST).exists(),
            lambda: help_services.submit_help_request(
                requester=amara,
                category_id=categories["Linear Algebra"].pk,
                title=OPEN_REQUEST,
                description="My matrix has eigenvalue 2 twice and I cannot tell whether it is diagonalisable. "
                "I attached nothing yet; the exercise is 4.2 in the course notes.",
                slots=_evening_slots(amara, days=(1, 2, 4)),
                times_note="Any weekday evening works too.",
            ),
        )

        def scheduled_request() -> None:
            help_request = help_services.submit_help_request(
                requester=sofia,
                category_id=categories["Programming"].pk,
                title=SCHEDULED_REQUEST,
                description="My parser for arithmetic expressions never returns on '1 - 2 - 3'. Left recursion?",
                slots=_evening_slots(sofia, days=(1, 3)),
            )
            if ExpertProfile.objects.filter(user=kenji, status=ExpertProfile.Status.APPROVED).exists():
                # Accept and schedule in one step, in the first of the requester's times.
                start = help_request.slots.order_by("start").first().start
                help_services.accept_help_request(
                    expert=kenji, request_id=help_request.public_id, start=start, end=start + timedelta(minutes=45)
                )

        self._ensure(
            f"sofia.marquez's help request {SCHEDULED_REQUEST!r}, scheduled with kenji.watanabe",
            lambda: HelpRequest.objects.filter(requester=sofia, title=SCHEDULED_REQUEST).exists(),
            scheduled_request,
        )


def _friends(a: str, b: str) -> bool:
    low, high = Friendship.ordered_ids(_user(a).pk, _user(b).pk)
    return Friendship.objects.filter(user_low_id=low, user_high_id=high).exists()


def _pending(a: str, b: str) -> bool:
    pair = Q(from_user=_user(a), to_user=_user(b)) | Q(from_user=_user(b), to_user=_user(a))
    return FriendRequest.objects.filter(pair, status=FriendRequest.Status.PENDING).exists()


def _befriend(a: str, b: str) -> None:
    """Friends through the services: b accepts a's request (or a's sending accepts b's)."""
    user_a, user_b = _user(a), _user(b)
    if social_selectors.blocked_either_way(user_a.pk, user_b.pk):
        raise Refusal("One of them blocked the other.", code="blocked")
    waiting = FriendRequest.objects.filter(
        from_user=user_a, to_user=user_b, status=FriendRequest.Status.PENDING
    ).first()
    if waiting is None:
        sent = social_services.send_friend_request(from_user=user_a, to_user=user_b)
        if sent.friendship is not None:  # b had asked a: sending accepted it
            return
        waiting = sent.friend_request
    social_services.accept_friend_request(user=user_b, request_id=waiting.pk)
