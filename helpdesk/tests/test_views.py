"""The help-desk pages: they render, they act through the services, and nobody sees or changes
what is not theirs (every view with another user's request and document ids)."""

import pytest
from django.urls import reverse

from helpdesk.models import HelpRequest, HelpRequestStatus, MeetingState, Rating
from helpdesk.tests.factories import PDF_BYTES, accepted, completed, pdf, png_bytes, scheduled, submit

pytestmark = pytest.mark.django_db


def url(name, help_request=None, **kwargs):
    if help_request is not None:
        kwargs["public_id"] = help_request.public_id
    return reverse(f"helpdesk:{name}", kwargs=kwargs)


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
        {"category": category.pk, "title": "Help with proofs", "description": "Induction", "files": [pdf()]},
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
        },
    )
    assert response.status_code == 400
    assert b"This field is required" in response.content
    assert b"Select a valid choice" in response.content
    response = client.post(
        url("new"), {"category": category.pk, "title": "t", "description": "d", "files": [pdf("fake.pdf", png_bytes())]}
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

    services_accept = client_of(grace).post(url("accept", open_request))
    assert services_accept.status_code == 302
    # Once accepted, other experts of the category no longer see it.
    for user, expected in [(ada, 200), (grace, 200), (staff, 200), (alan, 404), (eve, 404)]:
        client.force_login(user)
        assert client.get(url("detail", open_request)).status_code == expected, user


def test_documents_download_as_decrypted_attachments_only_for_those_who_may_see(
    client, ada, category, grace, alan, eve, staff
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

    for user, expected in [(grace, 200), (staff, 200), (eve, 404)]:
        client.force_login(user)
        assert client.get(target).status_code == expected
    # A document id of another request, under a request the user may see: 404.
    other = submit(eve, category, files=[pdf()])
    client.force_login(ada)
    mixed = url("document", help_request, document_id=other.documents.get().public_id)
    assert client.get(mixed).status_code == 404


@pytest.mark.parametrize("action", ["accept", "release", "schedule", "meeting_link", "complete", "cancel", "rate"])
def test_every_action_on_someone_elses_request_is_404_and_changes_nothing(client, ada, category, grace, eve, action):
    help_request = scheduled(ada, category, grace)
    before = HelpRequest.objects.filter(pk=help_request.pk).values().get()
    client.force_login(eve)

    response = client.post(
        url(action, help_request),
        {"note": "x", "start": "2099-01-01T10:00", "duration": 60, "url": "https://x.example/", "stars": 5},
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
    assert client.post(url("accept", help_request)).status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("schedule", help_request), {"start": "2099-03-01T10:00", "duration": "60"})
    assert response.status_code == 302
    help_request.refresh_from_db()
    assert help_request.status == HelpRequestStatus.SCHEDULED
    assert help_request.meeting_state == MeetingState.CREATED
    client.force_login(ada)
    assert b"Join the meeting" in client.get(url("detail", help_request)).content

    client.force_login(grace)
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
    for user, expected in [(ada, 200), (grace, 200), (alan, 404), (staff, 404), (eve, 404)]:
        client.force_login(user)
        assert client.get(url("meet", help_request)).status_code == expected


def test_my_pages_list_only_my_own(client, ada, category, grace, eve):
    mine = completed(ada, category, grace, title="Ada's question")
    submit(eve, category, title="Eve's question")
    client.force_login(ada)
    body = client.get(url("mine")).content.decode()
    assert "Ada&#x27;s question" in body and "Eve" not in body
    client.force_login(grace)
    body = client.get(url("assigned")).content.decode()
    assert str(mine.public_id) in body and "Eve" not in body
