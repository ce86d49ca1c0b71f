import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from social.models import Block, FriendRequest, Friendship, Report
from social.tests.factories import BlockFactory, FriendRequestFactory, UserFactory, make_friends

pytestmark = pytest.mark.django_db

Status = FriendRequest.Status
UNKNOWN_UUID = "00000000-0000-0000-0000-000000000000"


def are_friends(a, b) -> bool:
    low, high = Friendship.ordered_ids(a.pk, b.pk)
    return Friendship.objects.filter(user_low_id=low, user_high_id=high).exists()


def url(name, *args):
    return reverse(f"api:social-{name}", args=args)


# --- Authentication ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "name", "args"),
    [
        ("get", "directory", ()),
        ("get", "suggestions", ()),
        ("get", "friend-requests", ()),
        ("post", "friend-requests", ()),
        ("post", "friend-request-accept", (1,)),
        ("get", "friends", ()),
        ("delete", "friend", (UNKNOWN_UUID,)),
        ("get", "blocks", ()),
        ("post", "reports", ()),
    ],
)
def test_every_endpoint_needs_credentials(db, method, name, args):
    response = getattr(APIClient(), method)(url(name, *args))
    assert response.status_code == 401
    assert "detail" in response.json()


# --- Directory and suggestions -------------------------------------------------------------------


def test_directory_search_returns_people_with_their_relationship(api_of, ada, bob):
    FriendRequestFactory(from_user=bob, to_user=ada)
    UserFactory(first_name="Gone", university="Sapienza")

    response = api_of(ada).get(url("directory"), {"university": "university of bologna"})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    person = body["results"][0]
    assert person["public_id"] == str(bob.public_id)
    assert person["relationship"] == "request_received"
    assert person["received_request_id"] == FriendRequest.objects.get().pk
    assert "email" not in person and "id" not in person


def test_directory_search_needs_a_filter_and_sane_lengths(api_of, ada):
    empty = api_of(ada).get(url("directory"))
    too_long = api_of(ada).get(url("directory"), {"q": "x" * 121})

    assert empty.status_code == too_long.status_code == 400
    assert "at least one filter" in str(empty.json())
    assert empty.json()["detail"]
    assert "q" in too_long.json()["errors"]


def test_suggestions_and_their_limit(api_of, ada):
    for _ in range(3):
        UserFactory()
    response = api_of(ada).get(url("suggestions"), {"limit": 2})
    assert response.status_code == 200
    assert len(response.json()) == 2
    assert response.json()[0]["same_course"] is True
    assert api_of(ada).get(url("suggestions"), {"limit": 0}).status_code == 400
    assert api_of(ada).get(url("suggestions"), {"limit": "many"}).status_code == 400


# --- Friend requests -----------------------------------------------------------------------------


def test_create_a_request_then_see_it_on_both_sides(api_of, ada, bob):
    created = api_of(ada).post(url("friend-requests"), {"to": str(bob.public_id), "note": "Hi"}, format="json")

    assert created.status_code == 201
    assert created.json()["status"] == "pending"
    assert created.json()["to_user"]["public_id"] == str(bob.public_id)
    outgoing = api_of(ada).get(url("friend-requests"), {"direction": "outgoing"}).json()
    incoming = api_of(bob).get(url("friend-requests")).json()
    assert [r["id"] for r in outgoing["results"]] == [r["id"] for r in incoming["results"]] == [created.json()["id"]]
    assert api_of(ada).get(url("friend-requests")).json()["count"] == 0


def test_asking_someone_who_asked_me_accepts_theirs_with_200(api_of, ada, bob):
    theirs = FriendRequestFactory(from_user=bob, to_user=ada)

    response = api_of(ada).post(url("friend-requests"), {"to": str(bob.public_id)}, format="json")

    assert response.status_code == 200
    assert response.json()["id"] == theirs.pk and response.json()["status"] == "accepted"
    assert are_friends(ada, bob)


@pytest.mark.parametrize(
    ("payload", "status", "fragment"),
    [
        ({}, 400, "errors"),
        ({"to": "not-a-uuid"}, 400, "valid UUID"),
        ({"to": UNKNOWN_UUID}, 404, "No such student."),
        ({"to": "BOB", "note": "n" * 201}, 400, "200 characters"),
        ({"to": "ADA"}, 404, "No such student."),
    ],
)
def test_bad_requests_are_refused_with_detail(api_of, ada, bob, payload, status, fragment):
    ids = {"BOB": str(bob.public_id), "ADA": str(ada.public_id)}
    payload = {key: ids.get(value, value) for key, value in payload.items()}
    response = api_of(ada).post(url("friend-requests"), payload, format="json")
    assert response.status_code == status
    assert "detail" in response.json()
    assert fragment in str(response.json())
    assert not FriendRequest.objects.exists()


def test_a_duplicate_request_is_a_409(api_of, ada, bob):
    api = api_of(ada)
    api.post(url("friend-requests"), {"to": str(bob.public_id)}, format="json")

    response = api.post(url("friend-requests"), {"to": str(bob.public_id)}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "duplicate"
    assert "already sent" in response.json()["detail"]


def test_a_request_to_a_friend_is_a_409(api_of, ada, bob):
    make_friends(ada, bob)
    response = api_of(ada).post(url("friend-requests"), {"to": str(bob.public_id)}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "already_friends"


def test_a_bad_direction_is_a_400(api_of, ada):
    assert api_of(ada).get(url("friend-requests"), {"direction": "sideways"}).status_code == 400


@pytest.mark.parametrize(("action", "status"), [("accept", Status.ACCEPTED), ("decline", Status.DECLINED)])
def test_the_recipient_answers(api_of, ada, bob, action, status):
    request = FriendRequestFactory(from_user=bob, to_user=ada)

    response = api_of(ada).post(url(f"friend-request-{action}", request.pk))

    assert response.status_code == 200
    assert response.json()["status"] == status
    assert are_friends(ada, bob) == (action == "accept")
    again = api_of(ada).post(url(f"friend-request-{action}", request.pk))
    assert again.status_code == 409 and again.json()["code"] == "not_pending"


def test_the_sender_cancels(api_of, ada, bob):
    request = FriendRequestFactory(from_user=ada, to_user=bob)
    response = api_of(ada).post(url("friend-request-cancel", request.pk))
    assert response.status_code == 200 and response.json()["status"] == "cancelled"


@pytest.mark.parametrize(
    ("action", "actor"),
    [
        ("cancel", "recipient"),
        ("cancel", "stranger"),
        ("accept", "sender"),
        ("accept", "stranger"),
        ("decline", "sender"),
        ("decline", "stranger"),
    ],
)
def test_nobody_else_can_answer_a_request_by_id(api_of, ada, bob, eve, action, actor):
    request = FriendRequestFactory(from_user=ada, to_user=bob)
    user = {"sender": ada, "recipient": bob, "stranger": eve}[actor]

    response = api_of(user).post(url(f"friend-request-{action}", request.pk))

    assert response.status_code == 404
    assert response.json() == {"detail": "No such friend request.", "code": "not_found"}
    request.refresh_from_db()
    assert request.status == Status.PENDING
    assert not Friendship.objects.exists()


def test_request_lists_never_show_other_peoples_requests(api_of, ada, bob, eve):
    FriendRequestFactory(from_user=ada, to_user=bob)
    for direction in ["incoming", "outgoing"]:
        assert api_of(eve).get(url("friend-requests"), {"direction": direction}).json()["count"] == 0


# --- Friends -------------------------------------------------------------------------------------


def test_friends_list_and_search(api_of, ada, bob, eve):
    make_friends(ada, bob)
    make_friends(ada, eve)

    everyone = api_of(ada).get(url("friends")).json()
    searched = api_of(ada).get(url("friends"), {"q": "eve"}).json()

    assert [f["first_name"] for f in everyone["results"]] == ["Bob", "Eve"]
    assert [f["first_name"] for f in searched["results"]] == ["Eve"]
    assert everyone["results"][0]["relationship"] == "friend"
    assert everyone["results"][0]["friends_since"]


def test_unfriend(api_of, ada, bob):
    make_friends(ada, bob)
    assert api_of(bob).delete(url("friend", ada.public_id)).status_code == 204
    assert not are_friends(ada, bob)


def test_unfriending_strangers_is_a_404_and_changes_nothing(api_of, ada, bob, eve):
    make_friends(ada, bob)
    assert api_of(eve).delete(url("friend", bob.public_id)).status_code == 404
    assert api_of(eve).delete(url("friend", UNKNOWN_UUID)).status_code == 404
    assert are_friends(ada, bob)


# --- Blocks and reports --------------------------------------------------------------------------


def test_block_list_create_and_delete(api_of, ada, bob):
    make_friends(ada, bob)
    api = api_of(ada)

    created = api.post(url("blocks"), {"user": str(bob.public_id)}, format="json")
    assert created.status_code == 201
    assert created.json()["public_id"] == str(bob.public_id)
    assert not are_friends(ada, bob)
    assert [b["public_id"] for b in api.get(url("blocks")).json()["results"]] == [str(bob.public_id)]
    assert api.post(url("blocks"), {"user": str(bob.public_id)}, format="json").status_code == 409

    assert api.delete(url("block", bob.public_id)).status_code == 204
    assert not Block.objects.exists()


def test_blocking_bad_input(api_of, ada):
    api = api_of(ada)
    assert api.post(url("blocks"), {"user": str(ada.public_id)}, format="json").status_code == 400
    assert api.post(url("blocks"), {"user": UNKNOWN_UUID}, format="json").status_code == 404
    assert api.post(url("blocks"), {}, format="json").status_code == 400
    assert not Block.objects.exists()


def test_nobody_else_can_lift_or_see_a_block(api_of, ada, bob, eve):
    BlockFactory(blocker=ada, blocked=bob)
    assert api_of(eve).delete(url("block", bob.public_id)).status_code == 404
    assert api_of(bob).delete(url("block", ada.public_id)).status_code == 404
    assert api_of(eve).get(url("blocks")).json()["count"] == 0
    assert Block.objects.count() == 1


def test_a_blocked_student_cannot_find_or_ask_the_blocker(api_of, ada, bob):
    BlockFactory(blocker=ada, blocked=bob)
    api = api_of(bob)
    assert api.get(url("directory"), {"q": "ada"}).json()["count"] == 0
    assert api.post(url("friend-requests"), {"to": str(ada.public_id)}, format="json").status_code == 404


def test_report_a_student(api_of, ada, bob):
    response = api_of(ada).post(
        url("reports"), {"user": str(bob.public_id), "reason": "spam", "details": "Adverts"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["reason"] == "spam"
    assert Report.objects.get().reporter == ada
    again = api_of(ada).post(url("reports"), {"user": str(bob.public_id), "reason": "spam"}, format="json")
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"user": "BOB", "reason": "boring"}, 400),
        ({"user": "BOB"}, 400),
        ({"user": "BOB", "reason": "spam", "details": "d" * 2001}, 400),
        ({"user": "ADA", "reason": "spam"}, 400),
        ({"user": UNKNOWN_UUID, "reason": "spam"}, 404),
    ],
)
def test_bad_reports_are_refused(api_of, ada, bob, payload, status):
    payload = {k: {"BOB": str(bob.public_id), "ADA": str(ada.public_id)}.get(v, v) for k, v in payload.items()}
    response = api_of(ada).post(url("reports"), payload, format="json")
    assert response.status_code == status
    assert "detail" in response.json()
    assert not Report.objects.exists()


# --- Schema ----------------------------------------------------------------------------------------


def test_the_openapi_schema_with_the_social_endpoints_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out), stderr=io.StringIO())
    schema = out.read_text()
    for path in ["/api/v1/people/", "/api/v1/friend-requests/{id}/accept/", "/api/v1/blocks/{public_id}/"]:
        assert path in schema
