"""Conversations, memberships and messages. The ordering and idempotency rules live in the database.

- Each message has the next per-conversation `seq`, allocated by `chat.services.send_message`
  under a lock on the conversation row; `(conversation, seq)` is unique, so two messages can
  never share a place, and a reader who sees seq N+1 has already been able to see N.
- `(sender, client_id)` is unique: a retried send (same client-generated id) finds the stored
  message instead of creating a second one. System messages have no sender (NULLs never collide).
- A direct conversation stores `direct_key` = "<smaller user id>:<larger user id>", unique and
  NULL for groups: ONE direct conversation per pair on every backend (MariaDB ignores
  conditional unique constraints, a plain unique over a nullable column works everywhere).
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from chat.emoji import EMOJI_CODE_MAX_LENGTH, emoji_from_code

BODY_MAX_LENGTH = 4000
NAME_MAX_LENGTH = 80
CLIENT_ID_MAX_LENGTH = 64
GROUP_MEMBER_LIMIT = 256


def direct_key_for(a_id: int, b_id: int) -> str:
    low, high = (a_id, b_id) if a_id < b_id else (b_id, a_id)
    return f"{low}:{high}"


def picture_storage():
    """Group pictures live with the attachments: private storage, served by a members-only view."""
    from chat.storage import attachment_storage as storage

    return storage()


def _picture_path(instance, filename: str) -> str:
    return f"chat/group-pictures/{filename}"


class Conversation(models.Model):
    class Kind(models.TextChoices):
        DIRECT = "direct", "Direct"
        GROUP = "group", "Group"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_message_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_seq = models.PositiveBigIntegerField(default=0)
    # Raised by every edit and delete (under the row lock, like last_seq): the changed message
    # stores the new value in its own `change_seq`, so a client that saw changes up to N asks
    # for the messages with change_seq > N after a reconnect (chat.selectors.changes_since).
    change_seq = models.PositiveBigIntegerField(default=0)
    # The newest message, for list previews without a per-row query (kept by the services).
    last_message = models.ForeignKey(
        "Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    direct_key = models.CharField(max_length=41, null=True, blank=True, unique=True, editable=False)
    # Groups: an optional picture (a 256 px WEBP we encoded), private storage, members only.
    picture = models.FileField(storage=picture_storage, upload_to=_picture_path, max_length=255, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["direct", "group"]), name="chat_conversation_kind_valid"),
            models.CheckConstraint(
                condition=Q(kind="direct", direct_key__isnull=False) | Q(kind="group", direct_key__isnull=True),
                name="chat_direct_key_iff_direct",
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.get_kind_display()} conversation {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("chat:conversation", args=[self.pk])

    @property
    def is_direct(self) -> bool:
        return self.kind == self.Kind.DIRECT

    @property
    def is_group(self) -> bool:
        return self.kind == self.Kind.GROUP


def active_membership(prefix: str = "") -> Q:
    """The active-member rule (not left, not removed) as a Q, through a relation when `prefix`
    names one ("memberships__"): the one place the filter is written (chat.access)."""
    return Q(**{f"{prefix}left_at__isnull": True})


class MembershipQuerySet(models.QuerySet):
    def active(self):
        """Memberships of people in the conversation now (not left, not removed)."""
        return self.filter(active_membership())


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(default=timezone.now)
    left_at = models.DateTimeField(null=True, blank=True)
    last_read_seq = models.PositiveBigIntegerField(default=0)
    # The highest seq already covered by an unread-messages e-mail (the batch task is idempotent).
    emailed_seq = models.PositiveBigIntegerField(default=0)
    muted = models.BooleanField(default=False)
    archived = models.BooleanField(default=False)
    # False: a direct conversation a non-friend started, waiting in "message requests".
    accepted = models.BooleanField(default=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "user"], name="chat_one_membership_per_user"),
            models.CheckConstraint(
                condition=Q(role__in=["owner", "admin", "member"]), name="chat_membership_role_valid"
            ),
        ]
        indexes = [models.Index(fields=["user", "left_at"], name="chat_membership_user_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.conversation_id} ({self.role})"

    @property
    def is_active(self) -> bool:
        return self.left_at is None

    @property
    def can_manage(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.ADMIN)


class Message(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text", "Text"
        SYSTEM = "system", "System"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages", db_index=False)
    seq = models.PositiveBigIntegerField()
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="chat_messages",
        db_index=False,
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TEXT)
    body = models.TextField(max_length=BODY_MAX_LENGTH, blank=True)
    client_id = models.CharField(max_length=CLIENT_ID_MAX_LENGTH, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The conversation's change_seq at this message's last edit or delete (0: never changed).
    change_seq = models.PositiveBigIntegerField(default=0)
    # How many files it carries (kept by the services): payloads skip the attachment query at 0.
    attachment_count = models.PositiveSmallIntegerField(default=0)
    # The earlier message of the same conversation this one answers (chat.services checks the
    # conversation); a quote shows its author and first line, or "Original message deleted".
    reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies")
    # How many reactions it carries (kept by chat.services.set_reaction): pages skip the
    # reaction query when none of their messages has any.
    reaction_count = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["conversation", "change_seq"], name="chat_message_change_idx")]
        constraints = [
            # Its index (conversation_id, seq) also serves history pages backwards (ORDER BY seq
            # DESC is a backward scan of it): no separate (conversation, -seq) index is needed.
            models.UniqueConstraint(fields=["conversation", "seq"], name="chat_message_seq_unique"),
            models.UniqueConstraint(fields=["sender", "client_id"], name="chat_message_client_id_unique"),
            models.CheckConstraint(condition=Q(seq__gte=1), name="chat_message_seq_positive"),
            models.CheckConstraint(condition=Q(kind__in=["text", "system"]), name="chat_message_kind_valid"),
            models.CheckConstraint(
                condition=Q(edited_at__isnull=True) | Q(edited_at__gte=F("created_at")),
                name="chat_message_edited_after_created",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} in {self.conversation_id}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def is_system(self) -> bool:
        return self.kind == self.Kind.SYSTEM


class Reaction(models.Model):
    """One member's emoji on a message: one per (message, user, emoji), from the curated list
    (chat.emoji). Adding or removing one is a change of the message (its change_seq), so the
    live push and the resync after being away carry it like an edit."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_reactions")
    # The emoji's code points in hex (chat.emoji.emoji_code): ASCII, because MariaDB's utf8mb4
    # collations take every emoji outside the BMP for the same character.
    code = models.CharField(max_length=EMOJI_CODE_MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "user", "code"], name="chat_reaction_once_per_emoji"),
        ]

    def __str__(self) -> str:
        return f"{self.emoji} by {self.user_id} on {self.message_id}"

    @property
    def emoji(self) -> str:
        return emoji_from_code(self.code)


def attachment_storage():
    """Private storage of chat files (never under MEDIA_ROOT; S3 when configured)."""
    from chat.storage import attachment_storage as storage

    return storage()


def _attachment_path(instance, filename: str) -> str:
    return f"chat/{instance.message.conversation_id}/{filename}"


class Attachment(models.Model):
    """A file carried by a message. The bytes live in private storage and are served only by
    the permission-checked views (members of the conversation). Images are stored re-encoded
    (pixels only, no metadata) with a small WEBP thumbnail."""

    class Kind(models.TextChoices):
        IMAGE = "image", "Image"
        FILE = "file", "File"

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=200, help_text="The file name shown and offered on download.")
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    file = models.FileField(storage=attachment_storage, upload_to=_attachment_path, max_length=255)
    thumbnail = models.FileField(storage=attachment_storage, upload_to=_attachment_path, max_length=255, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["image", "file"]), name="chat_attachment_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_image(self) -> bool:
        return self.kind == self.Kind.IMAGE


class ReportedMessage(models.Model):
    """One message a user attached to a report (social.Report), copied when they reported it.

    The report is the only way staff read a message: its copy is what the reporter could see
    at that moment, and it stays readable for the moderators when the sender later edits or
    deletes the message (trust & safety tools keep the reported content the same way). `message`
    links to the row while it exists; the copied fields do not depend on it. Every staff view of
    these bodies leaves an EvidenceAccess row (docs/privacy.md).
    """

    report = models.ForeignKey("social.Report", on_delete=models.CASCADE, related_name="reported_messages")
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="report_copies")
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    seq = models.PositiveBigIntegerField()
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    # The sender's name when reported: the copy still reads after the account is gone.
    sender_name = models.CharField(max_length=150, blank=True)
    body = models.TextField(max_length=BODY_MAX_LENGTH, blank=True)
    sent_at = models.DateTimeField()
    edited_at = models.DateTimeField(null=True, blank=True)
    captured_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["report", "message"], name="chat_reported_message_once"),
        ]
        ordering = ["report", "conversation_id", "seq"]

    def __str__(self) -> str:
        return f"Message #{self.seq} of conversation {self.conversation_id} in report {self.report_id}"


def _reported_path(instance, filename: str) -> str:
    # Never used to store new bytes: a reported file names the attachment's stored file.
    return f"chat/reported/{filename}"


class ReportedAttachment(models.Model):
    """A file of a reported message. `file` names the same stored bytes as the attachment did;
    chat.services keeps the bytes while a report holds them, even when the message is deleted."""

    reported_message = models.ForeignKey(ReportedMessage, on_delete=models.CASCADE, related_name="attachments")
    attachment = models.ForeignKey(Attachment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=10, choices=Attachment.Kind.choices)
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    file = models.FileField(storage=attachment_storage, upload_to=_reported_path, max_length=255)

    def __str__(self) -> str:
        return self.name


class EvidenceAccess(models.Model):
    """The audit log: one row each time a staff member opened a report's messages or one of its
    files. Append-only (the admin shows it read-only); it keeps the staff address and the
    report number as text so the record outlives both."""

    class Action(models.TextChoices):
        READ = "read", "Read the reported messages"
        FILE = "file", "Opened a reported file"

    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    staff_email = models.EmailField(max_length=254)
    report = models.ForeignKey(
        "social.Report", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    report_number = models.PositiveBigIntegerField()
    action = models.CharField(max_length=10, choices=Action.choices)
    # What the view showed: [{"message": id, "conversation": id, "seq": n}, …]
    messages = models.JSONField(default=list)
    file_name = models.CharField(max_length=200, blank=True)
    viewed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "evidence access"
        verbose_name_plural = "evidence access log"
        constraints = [
            models.CheckConstraint(condition=Q(action__in=["read", "file"]), name="chat_evidence_action_valid"),
        ]
        indexes = [
            models.Index(fields=["report_number", "viewed_at"], name="chat_evidence_report_idx"),
            models.Index(fields=["viewed_at"], name="chat_evidence_time_idx"),
        ]
        ordering = ["-viewed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.staff_email} · report #{self.report_number} · {self.viewed_at:%Y-%m-%d %H:%M}"
