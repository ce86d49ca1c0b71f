"""The chat back office under docs/privacy.md: message metadata only, bodies through reports only,
every such view in the evidence access log."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.tests.factories import StaffFactory
from chat import services
from chat.models import EvidenceAccess, Message, ReportedMessage
from chat.tests.factories import befriend, client_id, direct_between, send
from notifications.models import Notification

pytestmark = pytest.mark.django_db

SECRET = "zebra-cantaloupe secret words"


@pytest.fixture
def staff(client):
    user = StaffFactory()
    client.force_login(user)
    return user


@pytest.fixture
def private_message(ada, bob, cleo):
    """An unreported message with a file, in a group (so a mention notification quotes it)."""
    befriend(ada, bob)
    befriend(ada, cleo)
    group = services.create_group(owner=ada, name="Lab group", members=[bob, cleo])
    message, _ = services.send_message(
        sender=bob,
        conversation_id=group.pk,
        body=f"@Ada {SECRET}",
        client_id=client_id(),
        files=[SimpleUploadedFile("diagnosis-results.txt", b"file bytes", content_type="text/plain")],
    )
    return message


def every_admin_page(client, request_user):
    """Every admin page a staff member can reach for the chat and notification models: each
    changelist (plain, searched for the secret, and searched for the file name) and each
    object's change and history pages."""
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = request_user
    for app in admin.site.get_app_list(request):
        for entry in app["models"]:
            if not entry.get("admin_url"):
                continue
            yield entry["admin_url"]
            yield entry["admin_url"] + "?q=zebra"  # the page echoes the query: look for the rest
            yield entry["admin_url"] + "?q=diagnosis"
            model = entry["model"]
            if model._meta.app_label not in {"chat", "notifications", "social"}:
                continue
            for pk in model._default_manager.values_list("pk", flat=True)[:50]:
                info = (model._meta.app_label, model._meta.model_name)
                yield reverse("admin:{}_{}_change".format(*info), args=[pk])
                yield reverse("admin:{}_{}_history".format(*info), args=[pk])


def test_no_admin_page_shows_an_unreported_message_or_its_file(client, staff, private_message):
    # Given a message (with a file) that nobody reported, and the notifications quoting it
    assert Notification.objects.filter(body__contains=SECRET).exists()

    # When staff open every list, search and object page of the back office
    pages = list(every_admin_page(client, staff))
    responses = {url: client.get(url) for url in pages}

    # Then none of them shows the text or the file name
    assert len(pages) > 40
    for url, response in responses.items():
        assert response.status_code in (200, 302), url
        content = response.content.decode()
        assert "cantaloupe" not in content, url
        assert "diagnosis-results" not in content, url


def test_the_message_list_searches_by_sender_and_not_by_text(client, staff, private_message):
    url = reverse("admin:chat_message_changelist")

    by_sender = client.get(url, {"q": private_message.sender.email})
    by_text = client.get(url, {"q": "zebra"})

    assert f'href="{reverse("admin:chat_message_change", args=[private_message.pk])}' in by_sender.content.decode()
    assert by_text.context["cl"].result_count == 0


def test_messages_are_view_only_and_have_no_actions(client, staff, private_message):
    change = reverse("admin:chat_message_change", args=[private_message.pk])
    changelist = reverse("admin:chat_message_changelist")

    edit = client.post(change, {"body": "rewritten", "seq": 1})
    delete = client.post(reverse("admin:chat_message_delete", args=[private_message.pk]), {"post": "yes"})
    action = client.post(changelist, {"action": "delete_selected", "_selected_action": [private_message.pk]})
    add = client.get(reverse("admin:chat_message_add"))

    assert edit.status_code == 403 and delete.status_code == 403 and add.status_code == 403
    assert "zebra-cantaloupe" not in action.content.decode()
    private_message.refresh_from_db()
    assert private_message.body.endswith(SECRET) and Message.objects.filter(pk=private_message.pk).exists()
    page = client.get(changelist)
    assert page.context["action_form"] is None  # no action is offered at all


def test_a_quoting_notification_cannot_be_turned_into_one_that_shows_its_body(client, staff, private_message):
    notification = Notification.objects.filter(body__contains=SECRET).first()
    change = reverse("admin:notifications_notification_change", args=[notification.pk])

    response = client.post(
        change, {"kind": "system", "title": "x", "body": "y", "recipient": notification.recipient_id}
    )

    assert response.status_code == 403
    notification.refresh_from_db()
    assert notification.kind != "system"


# --- Through a report --------------------------------------------------------------------------


def reported(ada, bob, *, with_file=False):
    conversation = direct_between(ada, bob)
    if with_file:
        message, _ = services.send_message(
            sender=bob,
            conversation_id=conversation.pk,
            body="see attached",
            client_id=client_id(),
            files=[SimpleUploadedFile("threat.txt", b"the file itself", content_type="text/plain")],
        )
    else:
        message = send(bob, conversation, "you are an idiot, zebra-cantaloupe")
    filed = services.report_from_conversation(
        reporter=ada, conversation_id=conversation.pk, reported=bob, reason="harassment", message_ids=[message.pk]
    )
    return filed, message


def test_staff_open_a_group_that_has_a_picture(client, ada, bob, settings, tmp_path):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from chat import services
    from chat.tests.factories import befriend

    settings.CHAT_ATTACHMENT_ROOT = str(tmp_path / "chat")
    befriend(ada, bob)
    group = services.create_group(owner=ada, name="Pictured", members=[bob])
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (1, 2, 3)).save(buffer, "PNG")
    services.set_group_picture(
        actor=ada, conversation_id=group.pk, upload=SimpleUploadedFile("p.png", buffer.getvalue())
    )
    client.force_login(StaffFactory())

    page = client.get(reverse("admin:chat_conversation_change", args=[group.pk]))

    # the picture is private (members only): the page names the file, it does not link it
    assert page.status_code == 200
    assert "chat/group-pictures/" in page.content.decode()


def test_the_report_page_links_to_its_messages_without_showing_them(client, staff, ada, bob):
    filed, _ = reported(ada, bob)

    page = client.get(reverse("admin:social_report_change", args=[filed.pk]))
    listing = client.get(reverse("admin:social_report_changelist"))

    content = page.content.decode()
    assert reverse("admin:chat_report_evidence", args=[filed.pk]) in content
    assert "Read the 1 reported message" in content
    assert "zebra-cantaloupe" not in content and "zebra-cantaloupe" not in listing.content.decode()
    assert not EvidenceAccess.objects.exists()


def test_staff_read_a_reported_message_through_its_report_and_that_view_is_logged(client, staff, ada, bob):
    # Given a report carrying Bob's message
    filed, message = reported(ada, bob)

    # When a staff member opens the report's messages
    response = client.get(reverse("admin:chat_report_evidence", args=[filed.pk]))

    # Then they read the body, and the audit log says who, when, which report and which messages
    assert response.status_code == 200
    assert "you are an idiot, zebra-cantaloupe" in response.content.decode()
    access = EvidenceAccess.objects.get()
    assert access.staff == staff and access.report == filed and access.action == "read"
    assert access.messages == [{"message": message.pk, "conversation": message.conversation_id, "seq": message.seq}]
    # The message list now marks the message as reported, still without its text
    listing = client.get(reverse("admin:chat_message_changelist"), {"reported": "yes"}).content.decode()
    assert reverse("admin:social_report_change", args=[filed.pk]) in listing and "zebra" not in listing


def test_every_opening_is_a_new_row_shown_read_only_in_the_log(client, staff, ada, bob):
    filed, _ = reported(ada, bob)
    evidence = reverse("admin:chat_report_evidence", args=[filed.pk])
    client.get(evidence)
    client.get(evidence)

    log = client.get(reverse("admin:chat_evidenceaccess_changelist"))
    row = EvidenceAccess.objects.first()
    change = client.post(reverse("admin:chat_evidenceaccess_change", args=[row.pk]), {"staff_email": "x@y.z"})
    delete = client.post(reverse("admin:chat_evidenceaccess_delete", args=[row.pk]), {"post": "yes"})

    assert EvidenceAccess.objects.count() == 2
    assert log.status_code == 200 and staff.email in log.content.decode()
    assert change.status_code == 403 and delete.status_code == 403
    assert client.get(reverse("admin:chat_evidenceaccess_add")).status_code == 403
    assert "zebra-cantaloupe" not in log.content.decode()


def test_a_reported_file_downloads_through_the_report_and_is_logged(client, staff, ada, bob):
    filed, _ = reported(ada, bob, with_file=True)
    page = client.get(reverse("admin:chat_report_evidence", args=[filed.pk])).content.decode()
    file_id = filed.reported_messages.get().attachments.get().pk
    url = reverse("admin:chat_report_evidence_file", args=[filed.pk, file_id])

    download = client.get(url)

    assert url in page
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"the file itself"
    assert download["Content-Disposition"].startswith("attachment")
    assert list(EvidenceAccess.objects.order_by("pk").values_list("action", "file_name")) == [
        ("read", ""),
        ("file", "threat.txt"),
    ]


def test_staff_without_the_permission_are_refused_and_nothing_is_logged(client, ada, bob):
    filed, _ = reported(ada, bob)
    staff = StaffFactory(is_superuser=False)
    staff.user_permissions.add(Permission.objects.get(codename="view_report"))
    client.force_login(staff)

    response = client.get(reverse("admin:chat_report_evidence", args=[filed.pk]))

    assert response.status_code == 403 and "zebra-cantaloupe" not in response.content.decode()
    assert not EvidenceAccess.objects.exists()


def test_an_unknown_report_is_a_404(client, staff):
    assert client.get(reverse("admin:chat_report_evidence", args=[999])).status_code == 404
    assert not EvidenceAccess.objects.exists()


def test_a_student_cannot_reach_the_evidence_page(client, ada, bob):
    filed, _ = reported(ada, bob)
    client.force_login(ada)

    response = client.get(reverse("admin:chat_report_evidence", args=[filed.pk]))

    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not EvidenceAccess.objects.exists()


def test_the_message_list_costs_the_same_queries_for_few_or_many_reported_messages(
    client, staff, ada, bob, django_assert_max_num_queries
):
    conversation = direct_between(ada, bob)
    first = send(bob, conversation, "one")
    services.report_from_conversation(
        reporter=ada, conversation_id=conversation.pk, reported=bob, reason="spam", message_ids=[first.pk]
    )
    url = reverse("admin:chat_message_changelist")
    client.get(url)  # warm the session
    with django_assert_max_num_queries(20) as few:
        client.get(url)

    # (copies made directly: one open report per reporter and person is the service's rule)
    more = [send(bob, conversation, f"spam {n}") for n in range(15)]
    filed = ReportedMessage.objects.get().report
    ReportedMessage.objects.bulk_create(
        ReportedMessage(report=filed, message=m, conversation=conversation, seq=m.seq, body="x", sent_at=m.created_at)
        for m in more
    )
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)

    assert response.content.decode().count(reverse("admin:social_report_change", args=[filed.pk])) == 16
