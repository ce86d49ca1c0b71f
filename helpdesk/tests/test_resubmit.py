""" "Submit it again": an expired or cancelled request opens the request form filled in from it
(slots moved to the future or left out with a note, documents carried over unless unticked), and
the new request and the old one link to each other. Only the requester can do it, on the page and
in the API."""

import datetime as dt
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from helpdesk import services
from helpdesk.models import HelpDocument, HelpRequest, HelpRequestStatus
from helpdesk.tests.factories import PDF_BYTES, pdf, submit

pytestmark = pytest.mark.django_db

NO_SLOTS = {
    "slots-TOTAL_FORMS": "5",
    "slots-INITIAL_FORMS": "0",
    "slots-MIN_NUM_FORMS": "0",
    "slots-MAX_NUM_FORMS": "5",
}


def expire(help_request):
    services.expire_stale_requests(older_than=timedelta(0), now=timezone.now() + timedelta(seconds=1))
    help_request.refresh_from_db()
    assert help_request.status == HelpRequestStatus.EXPIRED
    return help_request


def again_url(help_request):
    return reverse("helpdesk:submit_again", kwargs={"public_id": help_request.public_id})


def _slot_in_days(days: float, hours: int = 2):
    start = (timezone.now() + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    return start, start + timedelta(hours=hours)


@pytest.fixture
def expired_request(ada, category):
    help_request = submit(
        ada,
        category,
        title="Eigenvalues of a 3x3 matrix",
        description="The characteristic polynomial does not factor.",
        times_note="Evenings",
        files=[pdf("notes.pdf"), pdf("homework.pdf")],
        slots=[_slot_in_days(1), _slot_in_days(2)],
    )
    return expire(help_request)


def test_the_expired_requests_page_links_to_the_prefilled_form(client_of, ada, expired_request):
    page = client_of(ada).get(expired_request.get_absolute_url()).content.decode()
    assert f'href="{again_url(expired_request)}"' in page and "Submit it again" in page


def test_the_form_is_filled_in_from_the_old_request(client_of, ada, expired_request, settings):
    page = client_of(ada).get(again_url(expired_request))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="Eigenvalues of a 3x3 matrix"' in html
    assert "The characteristic polynomial does not factor." in html
    assert "Evenings" in html
    assert f'<option value="{expired_request.category_id}" selected>' in html
    # both documents, ticked, to carry over
    for document in expired_request.documents.all():
        assert f'value="{document.public_id}"' in html
    assert html.count('name="keep_documents"') == 2 and html.count("checked") >= 2
    assert "Submit again" in html


def test_passed_slots_move_on_by_whole_weeks_with_a_note(client_of, ada, expired_request):
    # the request's slots have passed meanwhile (at 10:00, so that no slot runs past midnight)
    passed = timezone.localtime(timezone.now() - timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)
    expired_request.slots.update(start=passed)
    for slot in expired_request.slots.all():
        slot.end = slot.start + timedelta(hours=1)
        slot.save()
    page = client_of(ada).get(again_url(expired_request)).content.decode()
    assert 'id="slots-moved"' in page and "moved to the same weekday and time in a coming week" in page
    local = timezone.localtime(expired_request.slots.first().start)
    assert f'value="{(local.date() + dt.timedelta(days=7)).isoformat()}"' in page


def test_submitting_again_links_both_requests_and_copies_the_kept_documents(client_of, ada, expired_request):
    client = client_of(ada)
    keep = expired_request.documents.get(original_name="notes.pdf")
    response = client.post(
        again_url(expired_request),
        {
            **NO_SLOTS,
            "category": expired_request.category_id,
            "title": "Eigenvalues, second try",
            "description": "Still stuck.",
            "keep_documents": [str(keep.public_id)],
        },
    )
    new = HelpRequest.objects.exclude(pk=expired_request.pk).get()
    assert response.status_code == 302 and response["Location"] == new.get_absolute_url()
    assert new.resubmitted_from == expired_request and new.status == HelpRequestStatus.OPEN
    copied = new.documents.get()
    assert copied.original_name == "notes.pdf" and copied.pk != keep.pk and copied.file.name != keep.file.name
    download = client.get(copied.get_absolute_url())
    assert b"".join(download.streaming_content if download.streaming else [download.content]) == PDF_BYTES
    # the old request keeps its own two documents
    assert expired_request.documents.count() == 2
    # both timelines say so, each linking to the other
    new_page = client.get(new.get_absolute_url()).content.decode()
    assert "Submitted again from" in new_page and expired_request.get_absolute_url() in new_page
    old_page = client.get(expired_request.get_absolute_url()).content.decode()
    assert "Submitted again" in old_page and new.get_absolute_url() in old_page
    assert 'id="submit-again"' not in old_page  # once


def test_a_request_is_submitted_again_once(client_of, ada, expired_request):
    services.submit_help_request(
        requester=ada,
        category_id=expired_request.category_id,
        title="Again",
        description="Again.",
        resubmit_of=expired_request.public_id,
    )
    response = client_of(ada).get(again_url(expired_request))
    assert response.status_code == 302 and response["Location"] == expired_request.resubmitted_as.get_absolute_url()
    with pytest.raises(Exception) as refused:
        services.submit_help_request(
            requester=ada,
            category_id=expired_request.category_id,
            title="Third",
            description="Third.",
            resubmit_of=expired_request.public_id,
        )
    assert refused.value.code == "already_resubmitted"


def test_a_cancelled_request_can_be_submitted_again(client_of, ada, category):
    help_request = submit(ada, category)
    services.cancel_help_request(requester=ada, request_id=help_request.public_id)
    client = client_of(ada)
    assert 'id="submit-again"' in client.get(help_request.get_absolute_url()).content.decode()
    assert client.get(again_url(help_request)).status_code == 200


def test_an_open_request_cannot_be_submitted_again(client_of, ada, category):
    help_request = submit(ada, category)
    response = client_of(ada).get(again_url(help_request))
    assert response.status_code == 302 and response["Location"] == help_request.get_absolute_url()


def test_only_the_requester_can_submit_it_again(client_of, eve, grace, staff, expired_request):
    for other in (eve, grace, staff):
        client = client_of(other)
        assert client.get(again_url(expired_request)).status_code == 404
        assert client.post(again_url(expired_request), {**NO_SLOTS, "title": "x"}).status_code == 404
    assert HelpRequest.objects.count() == 1


def test_a_document_of_another_request_cannot_be_kept(ada, category, expired_request):
    other = submit(ada, category, files=[pdf("other.pdf")])
    with pytest.raises(Exception) as refused:
        services.submit_help_request(
            requester=ada,
            category_id=category.pk,
            title="Again",
            description="Again.",
            resubmit_of=expired_request.public_id,
            keep_documents=[other.documents.get().public_id],
        )
    assert "keep_documents" in refused.value.message_dict


def test_the_api_submits_again_with_the_kept_documents(api_of, ada, eve, expired_request):
    keep = [str(document.public_id) for document in expired_request.documents.all()]
    answer = api_of(eve).post(
        "/api/v1/help/requests/",
        {
            "category": expired_request.category_id,
            "title": "x",
            "description": "y",
            "resubmit_of": str(expired_request.public_id),
        },
        format="multipart",
    )
    assert answer.status_code == 404
    api = api_of(ada)
    answer = api.post(
        "/api/v1/help/requests/",
        {
            "category": expired_request.category_id,
            "title": "Second try",
            "description": "Again.",
            "resubmit_of": str(expired_request.public_id),
            "keep_documents": keep,
        },
        format="multipart",
    )
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["resubmitted_from"] == str(expired_request.public_id)
    assert sorted(d["original_name"] for d in body["documents"]) == ["homework.pdf", "notes.pdf"]
    old = api.get(f"/api/v1/help/requests/{expired_request.public_id}/").json()
    assert old["resubmitted_as"] == body["id"] and "submit_again" not in old["actions"]
    assert [e["action"] for e in old["timeline"]][-1] == "resubmitted"
    again = api.post(
        "/api/v1/help/requests/",
        {
            "category": expired_request.category_id,
            "title": "3",
            "description": "3",
            "resubmit_of": str(expired_request.public_id),
        },
        format="multipart",
    )
    assert again.status_code == 409 and again.json()["code"] == "already_resubmitted"
    assert HelpDocument.objects.count() == 4
