"""The navbar's People and Queue badges, their JSON for live refreshes, and the dashboard's
"Next steps" (config/context_processors.py, config.views.nav_badges, config/next_steps.py)."""

import re

import pytest
from django.urls import reverse

from experts.tests.factories import CategoryFactory, ExpertProfileFactory, UserFactory
from helpdesk.tests.factories import submit
from notifications import services as notification_services
from social import services as social_services
from social.tests.factories import FriendRequestFactory, make_friends

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _help_settings(settings, tmp_path):
    settings.HELPDESK_DOCUMENT_ROOT = str(tmp_path / "help-documents")
    settings.MEETING_PROVIDER = "memory"


def badge(content: str, name: str) -> tuple[str, bool]:
    """The number a badge shows and whether it is hidden."""
    match = re.search(
        rf'<span class="([^"]*)" data-nav-badge="{name}"><span class="nav-count-number">([^<]*)</span>', content
    )
    assert match, f"no {name} badge"
    return match.group(2), "d-none" in match.group(1).split()


def test_the_people_badge_counts_friend_requests_waiting_for_an_answer(client):
    ada = UserFactory()
    FriendRequestFactory(to_user=ada)
    FriendRequestFactory(to_user=ada)
    FriendRequestFactory(from_user=ada)  # sent by her: not waiting for her
    client.force_login(ada)

    content = client.get(reverse("home")).content.decode()

    assert badge(content, "friend_requests") == ("2", False)
    assert '2</span><span class="visually-hidden"> friend requests waiting</span>' in content
    assert 'data-nav-badge="queue"' not in content  # not an expert: no Queue link, no badge


def test_with_nothing_waiting_the_badge_is_hidden(client):
    client.force_login(UserFactory())

    assert badge(client.get(reverse("home")).content.decode(), "friend_requests") == ("0", True)


def test_an_expert_sees_how_many_open_requests_wait_in_their_queue(client):
    algebra, chemistry = CategoryFactory(), CategoryFactory()
    expert = ExpertProfileFactory(categories=[algebra]).user
    student = UserFactory()
    submit(student, algebra, title="One")
    submit(student, algebra, title="Two")
    submit(student, chemistry, title="Not theirs")
    client.force_login(expert)

    content = client.get(reverse("home")).content.decode()

    assert badge(content, "queue") == ("2", False)
    assert client.get(reverse("nav_badges")).json() == {"friend_requests": 0, "queue": 2}


def test_the_counts_json_is_the_users_own_and_needs_a_login(client):
    ada = UserFactory()
    FriendRequestFactory(to_user=ada)
    FriendRequestFactory(to_user=UserFactory())

    anonymous = client.get(reverse("nav_badges"))
    client.force_login(ada)
    mine = client.get(reverse("nav_badges"))

    assert anonymous.status_code == 401 and anonymous.json()["errors"]
    assert mine.json() == {"friend_requests": 1, "queue": None}
    assert "no-cache" in mine["Cache-Control"] or "max-age=0" in mine["Cache-Control"]


def steps(content: str) -> dict[str, bool]:
    found = re.findall(r'<li( class="done")? data-step="(\w+)">', content)
    return {name: bool(done) for done, name in found}


def test_a_new_students_next_steps_are_all_to_do_except_an_empty_inbox(client):
    student = UserFactory(avatar="", bio="", interests="")
    client.force_login(student)

    assert steps(client.get(reverse("home")).content.decode()) == {
        "profile": False,
        "classmates": False,
        "expert": False,
        "emails": False,
        "notifications": True,
    }


def test_each_next_step_ticks_when_it_is_done(client, settings):
    # Given a student who did every step
    student = UserFactory(university="Bologna", course="Physics", bio="Hi", interests="jazz", avatar="a.webp")
    make_friends(student, UserFactory())
    submit(student, CategoryFactory())
    notification_services.set_email_preferences(user=student, kinds={"friend_request": False})
    client.force_login(student)

    # Then every step is ticked, and says so to a screen reader
    content = client.get(reverse("home")).content.decode()
    assert steps(content) == dict.fromkeys(["profile", "classmates", "expert", "emails", "notifications"], True)
    assert content.count('<span class="visually-hidden"> (done)</span>') == 5


def test_a_friend_request_on_its_way_counts_as_finding_classmates_and_an_unread_one_does_not_tick(client):
    student = UserFactory()
    social_services.send_friend_request(from_user=student, to_user=UserFactory())
    FriendRequestFactory(to_user=student)  # someone asked her: that is not her finding anyone
    notification_services.notify(recipient=student, kind="system", title="Hello")
    client.force_login(student)

    done = steps(client.get(reverse("home")).content.decode())

    assert done["classmates"] is True and done["notifications"] is False


def test_the_directory_filters_fold_once_a_search_has_run(client):
    client.force_login(UserFactory())

    first = client.get(reverse("social:directory")).content.decode()
    searched = client.get(reverse("social:directory"), {"university": "Bologna"}).content.decode()

    assert '<details class="filters-fold card-body" open>' in first
    assert '<details class="filters-fold card-body">' in searched
    assert (
        '<span class="filters-active small text-body-secondary text-truncate"><span>Bologna</span></span>' in searched
    )
