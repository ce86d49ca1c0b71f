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

BODY_MAX_LENGTH = 4000
NAME_MAX_LENGTH = 80
CLIENT_ID_MAX_LENGTH = 64
GROUP_MEMBER_LIMIT = 256


def direct_key_for(a_id: int, b_id: int) -> str:
    low, high = (a_id, b_id) if a_id < b_id else (b_id, a_id)
    return f"{low}:{high}"


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
    # The newest message, for list previews without a per-row query (kept by the services).
    last_message = models.ForeignKey(
        "Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    direct_key = models.CharField(max_length=41, null=True, blank=True, unique=True, editable=False)

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

    class Meta:
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
