"""Reports that carry messages, and the audited staff view of them (docs/privacy.md).

Staff never read chat messages in general: the message admin shows metadata only. A user who
reports someone from a conversation picks messages of it that they can see; those are copied
into the report (`ReportedMessage`, with their files as `ReportedAttachment`) in the same
transaction as the report itself (`social.services.report_user`, the one door for reports).
Staff read a report's messages only through `open_report_evidence` and its files only through
`open_reported_file`, and each call writes an `EvidenceAccess` row: who, when, which report,
which messages.
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Prefetch

from accounts.models import User
from chat.access import access_conversation
from chat.models import (
    Attachment,
    EvidenceAccess,
    Membership,
    Message,
    ReportedAttachment,
    ReportedMessage,
)
from chat.services.common import ChatError
from social import services as social_services
from social.models import Report

# A report carries at most this many messages (the form offers the newest REPORT_PICKER_SIZE).
REPORT_MESSAGES_MAX = 50
# The permission that lets a staff member read reported messages (superusers have every one).
EVIDENCE_PERMISSION = "chat.view_reportedmessage"


def _name(user: User | None) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.email


def _clean_message_ids(message_ids: object) -> list[int]:
    if not isinstance(message_ids, list | tuple) or not all(
        isinstance(pk, int) and not isinstance(pk, bool) for pk in message_ids
    ):
        raise ChatError("Pick the messages to report from the list.", code="invalid_messages", field="messages")
    unique = sorted(set(message_ids))
    if len(unique) > REPORT_MESSAGES_MAX:
        raise ChatError(
            f"A report can carry up to {REPORT_MESSAGES_MAX} messages.", code="too_many_messages", field="messages"
        )
    return unique


@transaction.atomic
def report_from_conversation(
    *, reporter: User, conversation_id: int, reported: User, reason: str, details: str = "", message_ids: list[int]
) -> Report:
    """File a report about `reported`, a member (now or before) of a conversation the reporter
    is in, carrying copies of the picked messages of that conversation.

    The reporter must be an active member (else Conversation.DoesNotExist, as for any chat
    read). Picked messages must be text messages of this conversation that are not deleted
    (ChatError "invalid_messages" otherwise: nothing is filed). The report's own rules
    (reason, details, one open report per person) are social.services.report_user's and
    refuse with its SocialRefusal.
    """
    ids = _clean_message_ids(message_ids)
    access_conversation(user=reporter, conversation_id=conversation_id)
    if (
        reported.pk == reporter.pk
        or not Membership.objects.filter(conversation_id=conversation_id, user=reported).exists()
    ):
        raise ChatError("Choose someone from this conversation to report.", code="not_a_member", field="reported")
    report = social_services.report_user(reporter=reporter, reported=reported, reason=reason, details=details)
    if not ids:
        return report
    # Locked, so a delete running now either finishes first (the message is refused below) or
    # waits and then finds its files held by this report.
    messages = list(
        Message.objects.select_for_update()
        .filter(pk__in=ids, conversation_id=conversation_id, kind=Message.Kind.TEXT, deleted_at__isnull=True)
        .order_by("pk")
    )
    if len(messages) != len(ids):
        raise ChatError(
            "Some of those messages are not in this conversation any more. Pick again from the list.",
            code="invalid_messages",
            field="messages",
        )
    senders = {user.pk: user for user in User.objects.filter(pk__in={m.sender_id for m in messages})}
    copies = ReportedMessage.objects.bulk_create(
        ReportedMessage(
            report=report,
            message=message,
            conversation_id=message.conversation_id,
            seq=message.seq,
            sender_id=message.sender_id,
            sender_name=_name(senders.get(message.sender_id)),
            body=message.body,
            sent_at=message.created_at,
            edited_at=message.edited_at,
        )
        for message in messages
    )
    by_message = {copy.message_id: copy for copy in copies}
    files = Attachment.objects.filter(message_id__in=list(by_message)).order_by("pk")
    ReportedAttachment.objects.bulk_create(
        ReportedAttachment(
            reported_message=by_message[attachment.message_id],
            attachment=attachment,
            kind=attachment.kind,
            name=attachment.name,
            content_type=attachment.content_type,
            size=attachment.size,
            file=attachment.file.name,
        )
        for attachment in files
    )
    return report


def held_file_names(names: list[str]) -> set[str]:
    """Which of these stored file names a report still holds (their bytes must stay)."""
    if not names:
        return set()
    return set(ReportedAttachment.objects.filter(file__in=names).values_list("file", flat=True))


@dataclass(frozen=True)
class ReportEvidence:
    """What a staff member sees of a report: the report and its copied messages (oldest first)."""

    report: Report
    messages: list[ReportedMessage]


def can_read_evidence(staff: User) -> bool:
    return bool(staff.is_active and staff.is_staff and staff.has_perm(EVIDENCE_PERMISSION))


def _require_evidence_reader(staff: User) -> None:
    if not can_read_evidence(staff):
        raise PermissionDenied("Reading reported messages needs the “view reported message” permission.")


def _message_refs(messages: list[ReportedMessage]) -> list[dict]:
    return [{"message": m.message_id, "conversation": m.conversation_id, "seq": m.seq} for m in messages]


@transaction.atomic
def open_report_evidence(*, staff: User, report_id: int) -> ReportEvidence:
    """The report's messages with their bodies and files, for a staff member allowed to read
    them, and an audit row of this view. Report.DoesNotExist for an unknown report;
    PermissionDenied (nothing recorded) without the permission."""
    _require_evidence_reader(staff)
    report = Report.objects.select_related("reporter", "reported", "handled_by").get(pk=report_id)
    messages = list(
        ReportedMessage.objects.filter(report=report)
        .select_related("sender")
        .prefetch_related(Prefetch("attachments", queryset=ReportedAttachment.objects.order_by("pk")))
        .order_by("conversation_id", "seq", "pk")
    )
    EvidenceAccess.objects.create(
        staff=staff,
        staff_email=staff.email,
        report=report,
        report_number=report.pk,
        action=EvidenceAccess.Action.READ,
        messages=_message_refs(messages),
    )
    return ReportEvidence(report=report, messages=messages)


@transaction.atomic
def open_reported_file(*, staff: User, report_id: int, file_id: int) -> ReportedAttachment:
    """One file of a report's messages (ReportedAttachment.DoesNotExist unless it belongs to
    that report), with an audit row of the download."""
    _require_evidence_reader(staff)
    reported_file = ReportedAttachment.objects.select_related("reported_message", "reported_message__report").get(
        pk=file_id, reported_message__report_id=report_id
    )
    copy = reported_file.reported_message
    EvidenceAccess.objects.create(
        staff=staff,
        staff_email=staff.email,
        report=copy.report,
        report_number=copy.report_id,
        action=EvidenceAccess.Action.FILE,
        messages=_message_refs([copy]),
        file_name=reported_file.name,
    )
    return reported_file
