"""The help-desk pages: they render, they act through the services, and nobody sees or changes
what is not theirs (every view with another user's request and document ids)."""

import pytest
from django.urls import reverse

from helpdesk import services
from helpdesk.models import HelpRequest, HelpRequestStatus, MeetingState, Rating
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


# The request form's slot rows (a formset): none filled in.
NO_SLOTS = {
    "slots-TOTAL_FORMS": "5",
    "slots-INITIAL_FORMS": "0",
    "slots-MIN_NUM_FORMS": "0",
    "slots-MAX_NUM_FORMS": "5",
}
# Accept and schedule in one step, at a time the expert proposes.
ACCEPT_AT = {"accept-choice": "other", "accept-start": "2099-03-01T10:00", "accept-duration": "60"}


def url(name, help_request=None, **kwargs):
    if help_request is not None:
        kwargs["public_id"] = help_request.public_id
    return reverse(f"helpdesk:{name}", kwargs=kwargs)


def accept_request(expert, help_request):
    return services.accept_help_request(expert=expert, request_id=help_request.public_id)


def release_request(expert, help_request, note):
    return services.release_help_request(expert=expert, request_id=help_request.public_id, note=note)


def test_pages_need_a_login(client, ada, category):
    help_request = submit(ada, category)
    for target in [url("mine"), url("new"), url("queue"), url("assigned"), url("detail", help_request)]:
        response = client.get(target)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_submitting_through_the_form_with_a_pdf(client_of, ada, category):
    client = client_of(ada)
    page = client.get(url("new"))
    assert page.status_code == 200 and b"multiple" in page.content

    response = client.post(
        url("new"),
        {
            "category": category.pk,
            "title": "Help with proofs",
            "description": "Induction",
            "files": [pdf()],
            **NO_SLOTS,
        },
    )

    help_request = HelpRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == help_request.get_absolute_url()
    assert help_request.documents.count() == 1
    detail = client.get(response["Location"])
    assert b"Help with proofs" in detail.content and b"notes.pdf" in detail.content


def test_the_form_shows_field_errors_and_stores_nothing(client_of, ada, category):
    client = client_of(ada)
    response = client.post(
        url("new"),
        {
            "category": "999",
            "title": "",
            "description": "d",
            "files": [pdf("fake.pdf", png_bytes())],
            **NO_SLOTS,
        },
    )
    assert response.status_code == 400
    assert b"This field is required" in response.content
    assert b"Select a valid choice" in response.content
    response = client.post(
        url("new"),
        {
            "category": category.pk,
            "title": "t",
            "description": "d",
            "files": [pdf("fake.pdf", png_bytes())],
            **NO_SLOTS,
        },
    )
    assert response.status_code == 400 and "not what its name says" in response.content.decode()
    assert not HelpRequest.objects.exists()


def test_the_requester_the_expert_staff_and_queue_experts_see_the_detail_others_get_404(
    client_of, client, ada, category, grace, alan, chemist, eve, staff
):
    open_request = submit(ada, category, files=[pdf()])
    for user, expected in [(ada, 200), (grace, 200), (alan, 200), (staff, 200), (chemist, 404), (eve, 404)]:
        client.force_login(user)
        assert client.get(url("detail", open_request)).status_code == expected, user

    services_accept = client_of(grace).post(url("accept", open_request), ACCEPT_AT)
    assert services_accept.status_code == 302
    # Once accepted, other experts of the category no longer see it.
    for user, expected in [(ada, 200), (grace, 200), (staff, 200), (alan, 404), (eve, 404)]:
        client.force_login(user)
        assert client.get(url("detail", open_request)).status_code == expected, user


def test_documents_download_as_decrypted_attachments_only_for_requester_holding_expert_and_staff(
    client, ada, category, grace, alan, eve, staff, chemist
):
    help_request = submit(ada, category, files=[pdf("my notes.pdf")])
    document = help_request.documents.get()
    target = url("document", help_request, document_id=document.public_id)

    client.force_login(ada)
    response = client.get(target)
    assert response.status_code == 200
    assert response.content == PDF_BYTES
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/pdf"

    # Open: candidate experts see the document's name on the request page, not its content.
    for user, expected in [(grace, 404), (alan, 404), (chemist, 404), (staff, 200), (eve, 404)]:
        client.force_login(user)
        assert client.get(target).status_code == expected, user
    client.force_login(grace)
    page = client.get(url("detail", help_request)).content.decode()
    assert "my notes.pdf" in page and target not in page and 'id="documents-locked"' in page

    accept_request(grace, help_request)
    for user, expected in [(grace, 200), (alan, 404), (staff, 200), (eve, 404), (ada, 200)]:
        client.force_login(user)
        assert client.get(target).status_code == expected, user
    client.force_login(grace)
    assert target in client.get(url("detail", help_request)).content.decode()

    # The expert who gives it back loses access.
    release_request(grace, help_request, note="Out of my depth")
    client.force_login(grace)
    assert client.get(target).status_code == 404

    # A document id of another request, under a request the user may see: 404.
    other = submit(eve, category, files=[pdf()])
    client.force_login(ada)
    mixed = url("document", help_request, document_id=other.documents.get().public_id)
    assert client.get(mixed).status_code == 404


@pytest.mark.parametrize(
    "action", ["accept", "release", "schedule", "reschedule", "meeting_link", "complete", "cancel", "rate"]
)
def test_every_action_on_someone_elses_request_is_404_and_changes_nothing(client, ada, category, grace, eve, action):
    help_request = scheduled(ada, category, grace)
    before = HelpRequest.objects.filter(pk=help_request.pk).values().get()
    client.force_login(eve)

    response = client.post(
        url(action, help_request),
        {
            "note": "x",
            "start": "2099-01-01T10:00",
            "duration": 60,
            "move-start": "2099-01-02T10:00",
            "move-duration": 60,
            "url": "https://x.example/",
            "stars": 5,
        },
    )

    assert response.status_code == 404
    assert HelpRequest.objects.filter(pk=help_request.pk).values().get() == before


def test_a_refused_action_shows_the_reason_and_changes_nothing(client_of, ada, category, grace, alan):
    help_request = accepted(ada, category, grace)
    client = client_of(alan)

    response = client.post(url("accept", help_request), follow=True)

    assert "already accepted" in response.content.decode() or response.status_code == 404
    assert HelpRequest.objects.get(pk=help_request.pk).expert_id == grace.pk


def test_the_whole_flow_through_the_pages(client, ada, category, grace, provider, django_capture_on_commit_callbacks):
    help_request = submit(ada, category)
    client.force_login(grace)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("accept", help_request), ACCEPT_AT)
    assert response.status_code == 302
    help_request.refresh_from_db()
    assert help_request.status == HelpRequestStatus.SCHEDULED
    assert help_request.meeting_state == MeetingState.CREATED
    client.force_login(ada)
    assert b"Join the meeting" in client.get(url("detail", help_request)).content

    client.force_login(grace)
    started(HelpRequest.objects.get(pk=help_request.pk))
    assert client.post(url("complete", help_request)).status_code == 302
    client.force_login(ada)
    page = client.get(url("detail", help_request)).content.decode()
    assert 'id="rate-form"' in page
    client.post(url("rate", help_request), {"stars": "5", "feedback": "Brilliant"})
    assert Rating.objects.get(request=help_request).stars == 5
    response = client.post(url("rate", help_request), {"stars": "9"}, follow=True)
    assert "Choose 1 to 5 stars" in response.content.decode()


def test_the_queue_lists_open_requests_in_my_categories_with_constant_queries(
    client, ada, category, other_category, grace, django_assert_max_num_queries, eve
):
    for i in range(3):
        submit(ada, category, title=f"Mine {i}", files=[pdf()])
    submit(ada, other_category, title="Chemistry question")
    client.force_login(grace)
    with django_assert_max_num_queries(12) as few:
        response = client.get(url("queue"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Mine 0" in body and "Mine 2" in body and "Chemistry question" not in body
    assert body.index("Mine 0") < body.index("Mine 2")  # oldest first
    for i in range(3, 15):
        submit(ada, category, title=f"Mine {i}", files=[pdf()])
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url("queue"))
    filtered = client.get(url("queue"), {"q": "Mine 1"}).content.decode()
    assert "Mine 1" in filtered and "Mine 2</" not in filtered
    fragment = client.get(url("queue"), {"fragment": "list"}, HTTP_HX_REQUEST="true")
    assert b"<html" not in fragment.content and b"Mine 0" in fragment.content
    # Students have no queue.
    client.force_login(eve)
    assert client.get(url("queue")).status_code == 403


def test_the_queue_row_partial_is_only_for_requests_in_my_queue(client, ada, category, grace, chemist):
    help_request = submit(ada, category)
    client.force_login(grace)
    assert client.get(url("queue_row", help_request)).status_code == 200
    client.force_login(chemist)
    assert client.get(url("queue_row", help_request)).status_code == 404


def test_the_local_meeting_page_is_for_the_two_participants_only(client, ada, category, grace, alan, staff, eve):
    help_request = scheduled(ada, category, grace)
    meet = reverse("helpdesk:meet", kwargs={"meeting_id": help_request.meeting_external_id})
    for user, expected in [(ada, 200), (grace, 200), (alan, 404), (staff, 404), (eve, 404)]:
        client.force_login(user)
        assert client.get(meet).status_code == expected
    # The request's own id is not a meeting id; a moved session's former link leads nowhere.
    client.force_login(ada)
    assert client.get(reverse("helpdesk:meet", kwargs={"meeting_id": help_request.public_id})).status_code == 404
    start, end = session_times(hours_from_now=48)
    services.reschedule_session(expert=grace, request_id=help_request.public_id, start=start, end=end)
    assert client.get(meet).status_code == 404


def test_my_pages_list_only_my_own(client, ada, category, grace, eve):
    mine = completed(ada, category, grace, title="Ada's question")
    submit(eve, category, title="Eve's question")
    client.force_login(ada)
    body = client.get(url("mine")).content.decode()
    assert "Ada&#x27;s question" in body and "Eve" not in body
    client.force_login(grace)
    body = client.get(url("assigned")).content.decode()
    assert str(mine.public_id) in body and "Eve" not in body


@pytest.mark.parametrize(
    ("action", "as_requester", "data", "message"),
    [
        ("release", False, {}, "Tell the requester"),
        ("release", False, {"note": "x" * 1001}, "Tell the requester"),
        ("schedule", False, {"start": "not a date", "duration": "60"}, "Enter a valid date/time"),
        ("schedule", False, {"start": "2099-01-01T10:00", "duration": "7"}, "Select a valid choice"),
        ("reschedule", False, {"move-start": "2099-01-01T10:00", "move-duration": "999"}, "Select a valid choice"),
        ("reschedule", False, {"move-start": "2000-01-01T10:00", "move-duration": "60"}, "must start in the future"),
        ("meeting_link", False, {"url": "ftp://files.example/x"}, "https://"),
        ("meeting_link", False, {"url": ""}, "https://"),
        ("complete", True, {}, None),
        ("rate", True, {"stars": "0"}, "Choose 1 to 5 stars"),
        ("rate", True, {"stars": "5"}, "Only a completed session can be rated"),
    ],
)
def test_bad_form_input_shows_a_clear_message_and_changes_nothing(
    client, ada, category, grace, action, as_requester, data, message
):
    help_request = scheduled(ada, category, grace)
    HelpRequest.objects.filter(pk=help_request.pk).update(meeting_state=MeetingState.FAILED)
    before = HelpRequest.objects.filter(pk=help_request.pk).values().get()
    events = help_request.events.count()
    client.force_login(ada if as_requester else grace)

    response = client.post(url(action, help_request), data, follow=True)

    if message is None:  # the requester cannot complete: not hers to act on as an expert
        assert response.status_code == 404
    else:
        assert response.status_code == 200
        assert message in response.content.decode()
    assert HelpRequest.objects.filter(pk=help_request.pk).values().get() == before
    assert help_request.events.count() == events


def test_every_action_needs_post(client, ada, category, grace):
    help_request = scheduled(ada, category, grace)
    client.force_login(grace)
    for action in ["accept", "release", "schedule", "reschedule", "meeting_link", "complete", "cancel", "rate"]:
        assert client.get(url(action, help_request)).status_code == 405, action
