"""Reports that carry messages, and the audited staff view of them (chat.services.reports)."""

from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.tests.factories import StaffFactory, UserFactory
from chat import services
from chat.models import Conversation, EvidenceAccess, ReportedMessage
from chat.services import ChatError
from chat.tests.factories import client_id, direct_between, send
from social.models import Report
from social.services import SocialRefusal

pytestmark = pytest.mark.django_db


def send_file(sender, conversation, name="plans.txt", data=b"secret plans", body=""):
    message, _ = services.send_message(
        sender=sender,
        conversation_id=conversation.pk,
        body=body,
        client_id=client_id(),
        files=[SimpleUploadedFile(name, data, content_type="text/plain")],
    )
    return message


def report(reporter, conversation, reported, message_ids, **extra):
    return services.report_from_conversation(
        reporter=reporter,
        conversation_id=conversation.pk,
        reported=reported,
        reason=extra.pop("reason", Report.Reason.HARASSMENT),
        details=extra.pop("details", ""),
        message_ids=[m.pk for m in message_ids],
    )


def moderator():
    """A staff member who is not a superuser, with only the evidence permission."""
    staff = StaffFactory(is_superuser=False)
    staff.user_permissions.add(Permission.objects.get(codename="view_reportedmessage"))
    return staff


# --- Filing ------------------------------------------------------------------------------------


def test_a_report_from_a_conversation_carries_copies_of_the_picked_messages(ada, bob):
    # Given a conversation with three messages
    conversation = direct_between(ada, bob)
    hello = send(ada, conversation, "hello")
    insult = send(bob, conversation, "you are an idiot")
    send(bob, conversation, "never mind")

    # When Ada reports Bob with two of them
    filed = report(ada, conversation, bob, [insult, hello], details="He insulted me")

    # Then the report is about Bob and carries copies of exactly those two, in order
    assert filed.reported == bob and filed.reporter == ada and filed.details == "He insulted me"
    copies = list(filed.reported_messages.order_by("seq"))
    assert [(c.seq, c.body, c.sender_id, c.sender_name) for c in copies] == [
        (hello.seq, "hello", ada.pk, "Ada Lovelace"),
        (insult.seq, "you are an idiot", bob.pk, "Bob Babbage"),
    ]
    assert copies[1].message_id == insult.pk and copies[1].conversation_id == conversation.pk


def test_the_copy_stays_when_the_sender_edits_or_deletes_the_original(ada, bob, django_capture_on_commit_callbacks):
    conversation = direct_between(ada, bob)
    threat = send(bob, conversation, "I know where you live")
    upload = send_file(bob, conversation, body="look at this")
    stored = Path(upload.attachments.get().file.path)
    filed = report(ada, conversation, bob, [threat, upload])

    # When Bob edits one and deletes the other (with its file)
    services.edit_message(user=bob, message_id=threat.pk, body="just kidding")
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_message(user=bob, message_id=upload.pk)

    # Then the report still reads as Ada saw it, and the file's bytes are still there
    copies = {c.seq: c for c in filed.reported_messages.all()}
    assert copies[threat.seq].body == "I know where you live"
    assert copies[upload.seq].body == "look at this"
    reported_file = copies[upload.seq].attachments.get()
    assert reported_file.name == "plans.txt" and reported_file.size == len(b"secret plans")
    assert stored.exists() and reported_file.file.path == str(stored)


def test_a_message_in_no_report_still_loses_its_file_on_delete(ada, bob, django_capture_on_commit_callbacks):
    conversation = direct_between(ada, bob)
    kept = send_file(bob, conversation, name="a.txt")
    dropped = send_file(bob, conversation, name="b.txt")
    report(ada, conversation, bob, [kept])
    path = Path(dropped.attachments.get().file.path)

    with django_capture_on_commit_callbacks(execute=True):
        services.delete_message(user=bob, message_id=dropped.pk)

    assert not path.exists()


def test_only_a_member_can_report_from_a_conversation(ada, bob, eve):
    conversation = direct_between(ada, bob)
    message = send(bob, conversation, "private")

    with pytest.raises(Conversation.DoesNotExist):
        report(eve, conversation, bob, [message])

    assert not Report.objects.exists() and not ReportedMessage.objects.exists()


def test_messages_of_another_conversation_are_refused_and_nothing_is_filed(ada, bob, cleo):
    # Given Ada's conversation with Bob, and Bob's with Cleo that Ada cannot see
    ours = direct_between(ada, bob)
    theirs = direct_between(bob, cleo)
    secret = send(cleo, theirs, "between Bob and me")

    # When Ada tries to attach a message of the other conversation
    with pytest.raises(ChatError) as refused:
        report(ada, ours, bob, [secret])

    # Then nothing is filed and nothing is copied
    assert refused.value.code == "invalid_messages"
    assert not Report.objects.exists() and not ReportedMessage.objects.exists()


def test_a_deleted_message_cannot_be_attached(ada, bob):
    conversation = direct_between(ada, bob)
    gone = send(bob, conversation, "oops")
    services.delete_message(user=bob, message_id=gone.pk)

    with pytest.raises(ChatError) as refused:
        report(ada, conversation, bob, [gone])

    assert refused.value.code == "invalid_messages"
    assert not Report.objects.exists()


@pytest.mark.parametrize("message_ids", [["1"], [True], "1,2", [1.5]])
def test_message_ids_that_are_not_a_list_of_integers_are_refused(ada, bob, message_ids):
    conversation = direct_between(ada, bob)

    with pytest.raises(ChatError) as refused:
        services.report_from_conversation(
            reporter=ada, conversation_id=conversation.pk, reported=bob, reason="spam", message_ids=message_ids
        )

    assert refused.value.code == "invalid_messages"


def test_a_report_carries_at_most_the_maximum_number_of_messages(ada, bob):
    conversation = direct_between(ada, bob)

    with pytest.raises(ChatError) as refused:
        services.report_from_conversation(
            reporter=ada,
            conversation_id=conversation.pk,
            reported=bob,
            reason="spam",
            message_ids=list(range(1, services.REPORT_MESSAGES_MAX + 2)),
        )

    assert refused.value.code == "too_many_messages"


def test_the_reported_person_must_be_in_the_conversation(ada, bob, cleo):
    conversation = direct_between(ada, bob)

    with pytest.raises(ChatError) as refused:
        report(ada, conversation, cleo, [])

    assert refused.value.code == "not_a_member"
    with pytest.raises(ChatError):
        report(ada, conversation, ada, [])


def test_a_second_open_report_about_the_same_person_is_refused(ada, bob):
    conversation = direct_between(ada, bob)
    first = send(bob, conversation, "one")
    report(ada, conversation, bob, [first])

    with pytest.raises(SocialRefusal) as refused:
        report(ada, conversation, bob, [send(bob, conversation, "two")])

    assert refused.value.code == "duplicate"
    assert ReportedMessage.objects.count() == 1


# --- The audited staff view ----------------------------------------------------------------------


def test_opening_a_reports_messages_shows_the_copies_and_records_who_when_and_which(ada, bob):
    conversation = direct_between(ada, bob)
    insult = send(bob, conversation, "you are an idiot")
    filed = report(ada, conversation, bob, [insult])
    staff = moderator()

    evidence = services.open_report_evidence(staff=staff, report_id=filed.pk)

    assert [m.body for m in evidence.messages] == ["you are an idiot"]
    access = EvidenceAccess.objects.get()
    assert (access.staff, access.staff_email, access.report, access.report_number, access.action) == (
        staff,
        staff.email,
        filed,
        filed.pk,
        EvidenceAccess.Action.READ,
    )
    assert access.messages == [{"message": insult.pk, "conversation": conversation.pk, "seq": insult.seq}]
    assert access.viewed_at is not None


def test_staff_without_the_permission_read_nothing_and_leave_no_row(ada, bob):
    conversation = direct_between(ada, bob)
    filed = report(ada, conversation, bob, [send(bob, conversation, "x")])
    staff = StaffFactory(is_superuser=False)

    with pytest.raises(PermissionDenied):
        services.open_report_evidence(staff=staff, report_id=filed.pk)
    with pytest.raises(PermissionDenied):
        services.open_report_evidence(staff=UserFactory(), report_id=filed.pk)

    assert not EvidenceAccess.objects.exists()


def test_a_reported_file_opens_only_through_its_own_report_and_is_recorded(ada, bob, cleo):
    conversation = direct_between(ada, bob)
    upload = send_file(bob, conversation)
    filed = report(ada, conversation, bob, [upload])
    other_conversation = direct_between(cleo, bob)
    other = report(cleo, other_conversation, bob, [send(bob, other_conversation, "hi")])
    file_id = ReportedMessage.objects.get(report=filed).attachments.get().pk
    staff = moderator()

    opened = services.open_reported_file(staff=staff, report_id=filed.pk, file_id=file_id)

    assert opened.file.read() == b"secret plans"
    access = EvidenceAccess.objects.get()
    assert access.action == EvidenceAccess.Action.FILE and access.file_name == "plans.txt"
    with pytest.raises(type(opened).DoesNotExist):
        services.open_reported_file(staff=staff, report_id=other.pk, file_id=file_id)


def test_the_audit_row_outlives_the_report(ada, bob):
    conversation = direct_between(ada, bob)
    filed = report(ada, conversation, bob, [send(bob, conversation, "x")])
    services.open_report_evidence(staff=moderator(), report_id=filed.pk)
    number = filed.pk

    filed.delete()

    access = EvidenceAccess.objects.get()
    assert access.report is None and access.report_number == number


# --- The report page ---------------------------------------------------------------------------


def test_the_report_page_lists_recent_messages_and_ticks_the_reported_persons(client, ada, bob):
    conversation = direct_between(ada, bob)
    mine = send(ada, conversation, "my own words")
    theirs = send(bob, conversation, "their words")
    client.force_login(ada)

    page = client.get(reverse("chat:report", args=[conversation.pk]))

    content = page.content.decode()
    assert page.status_code == 200
    assert "my own words" in content and "their words" in content
    assert page.context["checked"] == {theirs.pk}
    assert f'value="{mine.pk}" id="pick-{mine.pk}">' in content  # listed, not ticked


def test_sending_the_report_page_files_the_report_with_the_ticked_messages(client, ada, bob):
    conversation = direct_between(ada, bob)
    theirs = send(bob, conversation, "their words")
    client.force_login(ada)

    response = client.post(
        reverse("chat:report", args=[conversation.pk]),
        {"reported": str(bob.public_id), "reason": "harassment", "details": "", "message_ids": [theirs.pk]},
    )

    assert response.status_code == 302 and response["Location"] == reverse("chat:conversation", args=[conversation.pk])
    filed = Report.objects.get()
    assert filed.reported == bob and list(filed.reported_messages.values_list("body", flat=True)) == ["their words"]


def test_a_message_id_not_offered_on_the_page_is_a_form_error(client, ada, bob, cleo):
    conversation = direct_between(ada, bob)
    elsewhere = send(cleo, direct_between(cleo, bob), "not for Ada")
    client.force_login(ada)

    response = client.post(
        reverse("chat:report", args=[conversation.pk]),
        {"reported": str(bob.public_id), "reason": "spam", "message_ids": [elsewhere.pk]},
    )

    assert response.status_code == 400 and response.context["form"].errors["message_ids"]
    assert "not for Ada" not in response.content.decode()
    assert not Report.objects.exists()


def test_the_report_page_of_someone_elses_conversation_is_a_404(client, ada, bob, eve):
    conversation = direct_between(ada, bob)
    client.force_login(eve)

    assert client.get(reverse("chat:report", args=[conversation.pk])).status_code == 404
    assert client.post(reverse("chat:report", args=[conversation.pk]), {"reason": "spam"}).status_code == 404


def test_reporting_from_a_profile_goes_through_the_shared_conversation_when_there_is_one(client, ada, bob, cleo):
    conversation = direct_between(ada, bob)
    client.force_login(ada)

    with_chat = client.get(reverse("chat:report_person", args=[bob.public_id]))
    without = client.get(reverse("chat:report_person", args=[cleo.public_id]))

    assert with_chat["Location"] == f"{reverse('chat:report', args=[conversation.pk])}?user={bob.public_id}"
    assert without["Location"] == reverse("social:report", args=[cleo.public_id])
