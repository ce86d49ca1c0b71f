"""Every write of the chat app: conversations, memberships, messages, read state, e-mails.

Each function is keyword-only and runs in one transaction. The ordering guarantee: a message's
`seq` is allocated while the conversation row is locked (`select_for_update`), then the message
is inserted and `last_seq` raised in the same transaction, so seqs in a conversation are
1, 2, 3… without gaps or duplicates and commit in that order. Retried sends are answered from
the unique `(sender, client_id)`; a race past the first check ends in an IntegrityError that
is answered the same way.

Side effects run after commit: live pushes (hints — the database is the queue, clients resync)
and notifications through `notifications.services.notify` (mentions, message requests, and the
batched unread-messages e-mail, scheduled a few minutes after a message).

Refusals raise `ChatError` (a stable `code` and a sentence for people). A conversation or
message the user cannot see raises `Conversation.DoesNotExist` / `Message.DoesNotExist`, the
same as one that does not exist.

Split by noun (conversations, messages, reactions, reports, unread_email; shared rules in common); import from
here: `from chat import services; services.send_message(...)`.
"""

from chat.services.common import ChatError, clean_body, clean_client_id, clean_name, clean_optional_body
from chat.services.conversations import (
    accept_message_request,
    add_members,
    create_group,
    decline_message_request,
    leave_group,
    open_direct_conversation,
    promote_member,
    remove_member,
    rename_group,
    set_archived,
    set_group_picture,
    set_muted,
)
from chat.services.messages import TextSend, delete_message, edit_message, mark_read, send_message, send_messages
from chat.services.reactions import clean_emoji, set_reaction
from chat.services.reports import (
    REPORT_MESSAGES_MAX,
    ReportEvidence,
    can_read_evidence,
    open_report_evidence,
    open_reported_file,
    report_from_conversation,
)
from chat.services.unread_email import (
    email_unread_messages,
    schedule_unread_email,
    sweep_unread_emails,
    unread_email_delay,
)

__all__ = [
    "REPORT_MESSAGES_MAX",
    "ChatError",
    "ReportEvidence",
    "TextSend",
    "accept_message_request",
    "add_members",
    "can_read_evidence",
    "clean_body",
    "clean_client_id",
    "clean_emoji",
    "clean_name",
    "clean_optional_body",
    "create_group",
    "decline_message_request",
    "delete_message",
    "edit_message",
    "email_unread_messages",
    "leave_group",
    "mark_read",
    "open_direct_conversation",
    "open_report_evidence",
    "open_reported_file",
    "promote_member",
    "remove_member",
    "rename_group",
    "report_from_conversation",
    "schedule_unread_email",
    "send_message",
    "send_messages",
    "set_archived",
    "set_group_picture",
    "set_muted",
    "set_reaction",
    "sweep_unread_emails",
    "unread_email_delay",
]
