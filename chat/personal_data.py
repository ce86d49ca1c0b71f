"""The chat app's part in erasing and exporting an account (accounts.personal_data).

Erasing: the person leaves every group they are still in (the group sees "Deleted user left.",
ownership passes on as when anyone leaves); their direct conversations stay, so the other person
keeps the conversation. Messages they sent stay where others received them, with their files:
the sender is the erased account, shown as "Deleted user" on every page, payload and e-mail.

Exporting: every conversation they are or were a member of, with the messages of the time they
were in it (sent and received), and the files they sent themselves."""

from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Replace

from accounts.models import User
from accounts.personal_data import AccountDataHandler, ExportArchive, person, safe_segment
from chat import services
from chat.models import Attachment, Membership, Message


@transaction.atomic
def erase_account_data(user: User, former_name: str) -> None:
    if len(former_name) >= 4:
        # System lines name people ("Ada Lovelace created the group"): they name no one now.
        Message.objects.filter(
            kind=Message.Kind.SYSTEM,
            conversation__memberships__user=user,
            body__contains=former_name,
        ).update(body=Replace("body", Value(former_name), Value(user.get_full_name())))
    groups = Membership.objects.active().filter(user=user, conversation__kind="group")
    for conversation_id in list(groups.values_list("conversation_id", flat=True)):
        services.leave_group(user=user, conversation_id=conversation_id)


def _message_entry(message: Message, files: dict[int, list[str]]) -> dict:
    entry = {
        "seq": message.seq,
        "from": person(message.sender) if message.sender_id else None,
        "kind": message.kind,
        "sent_at": message.created_at,
        "edited_at": message.edited_at,
    }
    if message.deleted_at is not None:
        entry["deleted_at"] = message.deleted_at
    else:
        entry["body"] = message.body
        names = [attachment.name for attachment in message.attachments.all()] if message.attachment_count else []
        if names:
            entry["attachments"] = names
        if message.pk in files:
            entry["files_in_this_archive"] = files[message.pk]
    return entry


def export_account_data(user: User, archive: ExportArchive) -> None:
    memberships = Membership.objects.filter(user=user).select_related("conversation").order_by("joined_at", "pk")
    index = []
    for membership in memberships:
        conversation = membership.conversation
        others = [
            person(other.user)
            for other in Membership.objects.filter(conversation=conversation)
            .exclude(user=user)
            .select_related("user")
            .order_by("joined_at", "pk")
        ]
        title = conversation.name if conversation.is_group else ", ".join(p["name"] for p in others if p)
        folder = f"chat/{conversation.pk}-{safe_segment(title or conversation.kind, fallback=conversation.kind)}"
        messages = Message.objects.filter(conversation=conversation, created_at__gte=membership.joined_at)
        if membership.left_at is not None:
            messages = messages.filter(created_at__lte=membership.left_at)
        files: dict[int, list[str]] = {}
        sent_files = Attachment.objects.filter(
            message__in=messages.filter(sender=user, deleted_at__isnull=True)
        ).order_by("pk")
        for attachment in sent_files:
            with attachment.file.open("rb") as stored:
                name = archive.add_file(f"{folder}/files/{attachment.pk}-{safe_segment(attachment.name)}", stored)
            files.setdefault(attachment.message_id, []).append(name)
        archive.add_json(
            f"{folder}/messages.json",
            {
                "conversation": {
                    "kind": conversation.kind,
                    "name": conversation.name,
                    "members": others,
                    "you_joined_at": membership.joined_at,
                    "you_left_at": membership.left_at,
                    "your_role": membership.role,
                },
                "messages": [
                    _message_entry(message, files)
                    for message in messages.select_related("sender").prefetch_related("attachments").order_by("seq")
                ],
            },
        )
        index.append({"folder": folder, "kind": conversation.kind, "name": title})
    archive.add_json("chat/conversations.json", index)


HANDLER = AccountDataHandler(app="chat", erase=erase_account_data, export=export_account_data)
