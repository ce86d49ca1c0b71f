"""The accepted request's chat between requester and expert pins the request's card: title,
status, session time in the reader's zone, and the meeting link when the request page would offer
"Join" (helpdesk.selectors.actions_for). It is on the page without JavaScript, its fragment is
for the requester and the expert only, and a change of the request pushes the event the card's
script refetches on."""

import pytest
from django.urls import reverse

from chat import selectors as chat_selectors
from helpdesk import services
from helpdesk.tests.factories import accepted, completed, scheduled, started, submit

pytestmark = pytest.mark.django_db


def conversation_url(user, other):
    conversation = chat_selectors.open_direct_conversation_with(user=user, other=other)
    assert conversation is not None, "accepting opens the conversation"
    return reverse("chat:conversation", args=[conversation.pk])


def card_url(help_request):
    return reverse("helpdesk:chat_card", args=[help_request.public_id])


def test_the_conversation_pins_the_accepted_requests_card(client_of, ada, grace, category):
    help_request = accepted(ada, category, grace, title="Eigenvalues of a 3x3 matrix")
    page = client_of(ada).get(conversation_url(ada, grace)).content.decode()
    assert 'id="chat-pinned"' in page and f'data-help-card="{help_request.public_id}"' in page
    assert "Eigenvalues of a 3x3 matrix" in page and "Accepted" in page and "No session time yet." in page
    assert "data-card-join" not in page


def test_the_card_shows_the_session_in_each_readers_zone(client_of, ada, grace, category):
    ada.time_zone = "America/Los_Angeles"
    ada.save()
    grace.time_zone = "Asia/Tokyo"
    grace.save()
    help_request = scheduled(ada, category, grace)
    from config.timezones import SHORT_DAY, format_range, in_zone_of

    for reader, zone in ((ada, "America/Los_Angeles"), (grace, "Asia/Tokyo")):
        with in_zone_of(reader):
            expected = format_range(help_request.scheduled_start, help_request.scheduled_end, day=SHORT_DAY)
        page = client_of(reader).get(conversation_url(reader, ada if reader == grace else grace)).content.decode()
        assert expected in page and zone in page


def test_the_join_link_shows_only_while_the_state_allows_joining(
    client_of, ada, grace, category, provider, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        help_request = scheduled(ada, category, grace)
    help_request.refresh_from_db()
    assert help_request.has_meeting_link  # the meeting task ran after commit
    client = client_of(ada)
    page = client.get(conversation_url(ada, grace)).content.decode()
    assert "data-card-join" in page and help_request.meeting_join_url in page
    services.complete_help_request(expert=grace, request_id=started(help_request).public_id)
    page = client.get(conversation_url(ada, grace)).content.decode()
    assert "data-card-join" not in page and help_request.meeting_join_url not in page
    assert "Completed" in page and "#rate-form" in page  # the requester is offered to rate


def test_a_friends_chat_without_a_request_pins_nothing(client_of, ada, eve):
    from chat import services as chat_services
    from chat.tests.factories import befriend

    befriend(ada, eve)
    conversation = chat_services.open_direct_conversation(user=ada, other=eve)
    page = client_of(ada).get(reverse("chat:conversation", args=[conversation.pk])).content.decode()
    assert 'id="chat-pinned"' not in page


def test_the_fragment_is_for_the_requester_and_the_expert_only(client_of, ada, grace, alan, eve, staff, category):
    help_request = accepted(ada, category, grace)
    for reader in (ada, grace):
        answer = client_of(reader).get(card_url(help_request))
        assert answer.status_code == 200 and f'data-help-card="{help_request.public_id}"' in answer.content.decode()
    for outsider in (alan, eve, staff):
        assert client_of(outsider).get(card_url(help_request)).status_code == 404
    open_one = submit(ada, category, title="Still open")
    assert client_of(alan).get(card_url(open_one)).status_code == 404  # a candidate expert reads the page, not a card


def test_a_change_pushes_the_event_the_card_refetches_on(
    ada, grace, category, monkeypatch, django_capture_on_commit_callbacks
):
    help_request = accepted(ada, category, grace)
    pushed = []
    monkeypatch.setattr(
        "live.push.publish",
        lambda user_ids, event: pushed.extend((user_id, event) for user_id in user_ids),
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.cancel_help_request(requester=ada, request_id=help_request.public_id)
    changed = {user_id for user_id, event in pushed if event["type"] == "helpdesk.request.changed"}
    assert changed == {ada.pk, grace.pk}
    assert all(
        event["request"] == str(help_request.public_id)
        for _, event in pushed
        if event["type"] == "helpdesk.request.changed"
    )


def test_the_completed_request_card_stays_after_the_session(client_of, ada, grace, category):
    help_request = completed(ada, category, grace)
    page = client_of(grace).get(conversation_url(grace, ada)).content.decode()
    assert f'data-help-card="{help_request.public_id}"' in page and "Completed" in page
