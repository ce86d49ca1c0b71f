"""The JSON API: the same actions as the pages, JSON errors with `detail`, and nobody reaches
what is not theirs (404, as for an unknown id)."""

import uuid

import pytest
from django.urls import reverse

from helpdesk.models import HelpRequest, HelpRequestStatus, Rating
from helpdesk.tests.factories import (
    PDF_BYTES,
    accepted,
    completed,
    pdf,
    png_bytes,
    scheduled,
    session_times,
    started,
    submit,
)

pytestmark = pytest.mark.django_db


def api_url(name, help_request=None, **kwargs):
    if help_request is not None:
        kwargs["public_id"] = help_request.public_id
    return reverse(f"api:helpdesk-{name}", kwargs=kwargs)


def test_anonymous_callers_get_401(client, ada, category):
    help_request = submit(ada, category)
    for target in [api_url("requests"), api_url("request", help_request), api_url("queue")]:
        response = client.get(target)
        assert response.status_code == 401
        assert "detail" in response.json()


def test_submit_with_documents_then_read_it_back(api_of, ada, category):
    api = api_of(ada)
    response = api.post(
        api_url("requests"),
        {"category": category.pk, "title": "Integrals", "description": "By parts", "files": [pdf(), pdf("b.pdf")]},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "open" and len(body["documents"]) == 2
    assert [e["action"] for e in body["timeline"]] == ["submitted"]
    download = api.get(body["documents"][0]["download_url"])
    assert download.status_code == 200 and download.content == PDF_BYTES
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert [r["id"] for r in api.get(api_url("requests")).json()["results"]] == [body["id"]]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"category": 999999, "title": "t", "description": "d"}, "category"),
        ({"title": "t", "description": "d"}, "category"),
        ({"category": "CATEGORY", "title": "", "description": "d"}, "title"),
        ({"category": "CATEGORY", "title": "t", "description": "d", "files": ["DISGUISED"]}, "files"),
    ],
)
def test_bad_submissions_are_400_with_field_errors(api_of, ada, category, payload, field):
    payload = {k: (category.pk if v == "CATEGORY" else v) for k, v in payload.items()}
    if payload.get("files") == ["DISGUISED"]:
        payload["files"] = [pdf("x.pdf", png_bytes())]
    response = api_of(ada).post(api_url("requests"), payload, format="multipart")
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] and field in body["errors"]
    assert not HelpRequest.objects.exists()


def test_the_lifecycle_through_the_api(api_of, ada, category, grace, provider, django_capture_on_commit_callbacks):
    help_request = submit(ada, category)
    expert_api, user_api = api_of(grace), api_of(ada)

    queue = expert_api.get(api_url("queue")).json()
    assert [r["id"] for r in queue["results"]] == [str(help_request.public_id)]
    assert expert_api.post(api_url("accept", help_request)).json()["status"] == "accepted"
    start, end = session_times()
    with django_capture_on_commit_callbacks(execute=True):
        response = expert_api.post(
            api_url("schedule", help_request), {"start": start.isoformat(), "end": end.isoformat()}, format="json"
        )
    assert response.status_code == 200 and response.json()["status"] == "scheduled"
    detail = user_api.get(api_url("request", help_request)).json()
    assert detail["meeting_state"] == "created" and detail["meeting_join_url"].startswith("https://")
    started(HelpRequest.objects.get(pk=help_request.pk))
    assert expert_api.post(api_url("complete", help_request)).json()["status"] == "completed"
    rated = user_api.post(api_url("rate", help_request), {"stars": 5, "feedback": "Great"}, format="json")
    assert rated.status_code == 200 and rated.json()["rating"] == {"stars": 5, "feedback": "Great"}
    assert [r["id"] for r in expert_api.get(api_url("assigned")).json()["results"]] == [str(help_request.public_id)]


def test_state_refusals_are_409_with_a_code(api_of, ada, category, grace, alan):
    help_request = accepted(ada, category, grace)
    response = api_of(alan).post(api_url("accept", help_request))
    assert response.status_code == 409
    assert response.json()["code"] == "not_open" and "already accepted" in response.json()["detail"]

    done = completed(ada, category, grace)
    api_of(ada).post(api_url("rate", done), {"stars": 4}, format="json")
    again = api_of(ada).post(api_url("rate", done), {"stars": 4}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_rated"
    assert Rating.objects.count() == 1


@pytest.mark.parametrize("stars", [0, 6, "x", None])
def test_out_of_range_ratings_are_400(api_of, ada, category, grace, stars):
    done = completed(ada, category, grace)
    response = api_of(ada).post(api_url("rate", done), {"stars": stars}, format="json")
    assert response.status_code == 400 and "stars" in response.json()["errors"]


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("request", None),
        ("accept", {}),
        ("release", {"note": "x"}),
        ("schedule", {"start": "2099-01-01T10:00:00Z", "end": "2099-01-01T11:00:00Z"}),
        ("reschedule", {"start": "2099-01-02T10:00:00Z", "end": "2099-01-02T11:00:00Z"}),
        ("meeting-link", {"url": "https://x.example/"}),
        ("complete", {}),
        ("cancel", {}),
        ("rate", {"stars": 5}),
    ],
)
def test_someone_elses_request_is_404_on_every_endpoint(api_of, ada, category, grace, eve, name, payload):
    help_request = scheduled(ada, category, grace)
    before = HelpRequest.objects.filter(pk=help_request.pk).values().get()
    api = api_of(eve)
    response = (
        api.get(api_url(name, help_request))
        if payload is None
        else api.post(api_url(name, help_request), payload, format="json")
    )
    assert response.status_code == 404 and "detail" in response.json()
    assert HelpRequest.objects.filter(pk=help_request.pk).values().get() == before
    unknown = api.post(api_url(name, None, public_id=uuid.uuid4()), payload or {}, format="json")
    assert unknown.status_code in (404, 405)


def test_someone_elses_document_is_404(api_of, ada, category, eve):
    help_request = submit(ada, category, files=[pdf()])
    document = help_request.documents.get()
    target = api_url("document", help_request, document_id=document.public_id)
    assert api_of(eve).get(target).status_code == 404
    assert api_of(ada).get(target).status_code == 200


def test_documents_download_only_for_the_requester_the_holding_expert_and_staff(
    api_of, ada, category, grace, alan, staff
):
    help_request = submit(ada, category, files=[pdf("week 3.pdf")])
    document = help_request.documents.get()
    target = api_url("document", help_request, document_id=document.public_id)

    # A candidate expert sees the document's name and size, without a download link.
    [listed] = api_of(grace).get(api_url("request", help_request)).json()["documents"]
    assert listed["original_name"] == "week 3.pdf" and listed["download_url"] is None
    assert api_of(grace).get(target).status_code == 404

    api_of(grace).post(api_url("accept", help_request), format="json")
    [listed] = api_of(grace).get(api_url("request", help_request)).json()["documents"]
    assert listed["download_url"] == target
    for user in (grace, staff, ada):
        response = api_of(user).get(target)
        assert response.status_code == 200 and response.content == PDF_BYTES
        assert response["Content-Disposition"] == 'attachment; filename="week_3.pdf"'
        assert response["X-Content-Type-Options"] == "nosniff"
    assert api_of(alan).get(target).status_code == 404


@pytest.mark.parametrize(
    ("name", "payload", "field"),
    [
        ("release", {}, "note"),
        ("release", {"note": "x" * 1001}, "note"),
        ("schedule", {"start": "tomorrow"}, "start"),
        ("schedule", {"start": "2099-01-01T10:00:00Z"}, "end"),
        ("reschedule", {"end": "2099-01-01T10:00:00Z"}, "start"),
        ("meeting-link", {"url": "http://insecure.example/"}, "url"),
        ("meeting-link", {"url": "javascript:alert(1)"}, "url"),
        ("cancel", {"note": "x" * 1001}, "note"),
    ],
)
def test_bad_action_input_is_400_with_field_errors_and_changes_nothing(
    api_of, ada, category, grace, name, payload, field
):
    help_request = scheduled(ada, category, grace)
    HelpRequest.objects.filter(pk=help_request.pk).update(meeting_state="failed")
    before = HelpRequest.objects.filter(pk=help_request.pk).values().get()
    events = help_request.events.count()
    caller = ada if name == "cancel" else grace

    response = api_of(caller).post(api_url(name, help_request), payload, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert HelpRequest.objects.filter(pk=help_request.pk).values().get() == before
    assert help_request.events.count() == events


def test_students_have_no_queue(api_of, eve):
    response = api_of(eve).get(api_url("queue"))
    assert response.status_code == 403 and "detail" in response.json()


def test_the_schema_documents_the_help_endpoints(api_of, ada):
    response = api_of(ada).get(reverse("api:schema"))
    assert response.status_code == 200
    text = response.content.decode()
    for path in [
        "/api/v1/help/requests/",
        "/api/v1/help/queue/",
        "/api/v1/help/requests/{public_id}/accept/",
        "/api/v1/help/requests/{public_id}/reschedule/",
    ]:
        assert path in text
    assert HelpRequestStatus.OPEN in text
