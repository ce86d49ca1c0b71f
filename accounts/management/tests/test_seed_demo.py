from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts import services as account_services
from accounts.management.commands.seed_demo import ADMIN_EMAIL, DEMO_PASSWORD, STUDENTS
from accounts.models import User
from notifications.models import Notification, NotificationKind

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _development_mode(settings):
    """`make run` is development mode; pytest-django runs tests with DEBUG off."""
    settings.DEBUG = True
    # Seven bcrypt hashes per run are slow; the command does not depend on the hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def snapshot() -> tuple[list, list]:
    users = list(User.objects.order_by("pk").values_list("pk", "email", "password", "bio", "interests", "is_staff"))
    notifications = list(
        Notification.objects.order_by("pk").values_list("pk", "recipient_id", "kind", "title", "read_at")
    )
    return users, notifications


def test_seed_demo_creates_a_staff_superuser_and_students_with_the_printed_password():
    output = seed()

    admin = User.objects.get(email=ADMIN_EMAIL)
    assert admin.is_staff and admin.is_superuser
    assert admin.check_password(DEMO_PASSWORD)
    students = User.objects.filter(is_staff=False)
    assert students.count() == len(STUDENTS) >= 6
    assert len({student.university for student in students}) >= 2
    assert len({student.course for student in students}) >= 2
    for student in students:
        assert student.check_password(DEMO_PASSWORD)
        assert student.bio and student.interest_list
        assert student.email in output
    assert ADMIN_EMAIL in output
    assert DEMO_PASSWORD in output


def test_seed_demo_notifies_each_student_through_the_notification_service():
    seed()

    for student in User.objects.filter(is_staff=False):
        notifications = Notification.objects.filter(recipient=student)
        kinds = sorted(notifications.values_list("kind", flat=True))
        assert kinds == sorted(
            [NotificationKind.WELCOME, NotificationKind.EMAIL_VERIFY, NotificationKind.SYSTEM, NotificationKind.SYSTEM]
        )
        assert student.is_email_verified  # demo students can chat, befriend and ask for help at once
        # Some read, some unread, as a real account has.
        assert notifications.filter(read_at__isnull=True).exists()
        assert notifications.filter(read_at__isnull=False).exists()


def test_running_seed_demo_twice_changes_nothing():
    seed()
    before = snapshot()

    output = seed()

    assert snapshot() == before
    assert "nothing changed" in output
    assert DEMO_PASSWORD in output


def test_seed_demo_leaves_an_existing_account_alone_whatever_the_letter_case():
    # Given someone already registered one of the demo addresses, in other letters
    existing = account_services.register_user(
        email=STUDENTS[0].email.upper(),
        password="another-long-password-1",
        first_name="Someone",
        last_name="Else",
    )

    seed()

    existing.refresh_from_db()
    assert User.objects.filter(email__iexact=STUDENTS[0].email).count() == 1
    assert existing.first_name == "Someone"
    assert existing.check_password("another-long-password-1")
    # only its own welcome and confirmation link
    assert Notification.objects.filter(recipient=existing).count() == 2


def test_seed_demo_refuses_to_run_with_debug_off(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DJANGO_DEBUG=false"):
        seed()

    assert not User.objects.exists()


def test_seed_demo_runs_with_debug_off_when_explicitly_allowed(settings):
    settings.DEBUG = False

    seed("--allow-production")

    assert User.objects.filter(email=ADMIN_EMAIL).exists()
