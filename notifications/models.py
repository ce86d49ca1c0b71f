from django.conf import settings
from django.db import models


class NotificationKind(models.TextChoices):
    """Every kind of thing Lyceum tells a user. Later features add their kinds here."""

    WELCOME = "welcome", "Welcome to Lyceum"
    PASSWORD_CHANGED = "password_changed", "Your password was changed"
    SYSTEM = "system", "Announcement"
    FRIEND_REQUEST = "friend_request", "New friend request"
    FRIEND_ACCEPTED = "friend_accepted", "Friend request accepted"
    # chat
    UNREAD_MESSAGES = "unread_messages", "Unread messages"
    MENTION = "mention", "You were mentioned"
    MESSAGE_REQUEST = "message_request", "New message request"
    # experts
    EXPERT_APPROVED = "expert_approved", "Expert application approved"
    EXPERT_REJECTED = "expert_rejected", "Expert application not approved"
    EXPERT_AREA_APPROVED = "expert_area_approved", "New area of expertise approved"
    EXPERT_AREA_DECLINED = "expert_area_declined", "New area of expertise declined"
    # helpdesk
    HELP_REQUEST_NEW = "help_request_new", "New help request in your categories"
    HELP_REQUEST_ACCEPTED = "help_request_accepted", "Your help request was accepted"
    HELP_REQUEST_SCHEDULED = "help_request_scheduled", "Help session scheduled"
    HELP_MEETING_READY = "help_meeting_ready", "Meeting link ready"
    HELP_MEETING_FAILED = "help_meeting_failed", "Meeting could not be created"
    HELP_SESSION_REMINDER = "help_session_reminder", "Help session reminder"
    HELP_REQUEST_RELEASED = "help_request_released", "Help request released"
    HELP_REQUEST_CANCELLED = "help_request_cancelled", "Help request cancelled"
    HELP_REQUEST_EXPIRED = "help_request_expired", "Help request expired"
    HELP_REQUEST_COMPLETED = "help_request_completed", "Help session completed"
    HELP_RATING_RECEIVED = "help_rating_received", "New rating"
    HELP_REQUEST_DIRECT = "help_request_direct", "Someone asked you directly for help"
    HELP_REQUEST_TO_QUEUE = "help_request_to_queue", "Your request went to every expert of its subject"
    # accounts: proof of a mailbox, and notices about the account's address
    EMAIL_VERIFY = "email_verify", "Confirm your e-mail address"
    EMAIL_CHANGE_CONFIRM = "email_change_confirm", "Confirm your new e-mail address"
    EMAIL_CHANGE_REQUESTED = "email_change_requested", "Your login e-mail is being changed"
    ADDRESS_IN_USE = "address_in_use", "Someone tried to use your e-mail address"
    # accounts: closing an account, and "download my data"
    ACCOUNT_DELETION_SCHEDULED = "account_deletion_scheduled", "Your account will be deleted"
    ACCOUNT_RESTORED = "account_restored", "Your account was restored"
    DATA_EXPORT_READY = "data_export_ready", "Your data is ready to download"
    DATA_EXPORT_FAILED = "data_export_failed", "Your data could not be exported"


# Whether a kind sends e-mail when the user has made no choice (no NotificationPreference
# row). The one place these defaults live: a new kind adds its line here.
EMAIL_BY_DEFAULT: dict[str, bool] = {
    NotificationKind.WELCOME: True,
    NotificationKind.PASSWORD_CHANGED: True,
    NotificationKind.SYSTEM: True,
    NotificationKind.FRIEND_REQUEST: True,
    NotificationKind.FRIEND_ACCEPTED: True,
    # A new request in an expert's categories shows live in the queue; e-mail would be noise.
    NotificationKind.HELP_REQUEST_NEW: False,
}


# Kinds that always send their e-mail: the e-mail IS the point (a confirmation link, a warning
# about the account's address), so no preference can switch it off and none is offered.
EMAIL_ALWAYS: frozenset[str] = frozenset(
    {
        NotificationKind.EMAIL_VERIFY,
        NotificationKind.EMAIL_CHANGE_CONFIRM,
        NotificationKind.EMAIL_CHANGE_REQUESTED,
        NotificationKind.ADDRESS_IN_USE,
        NotificationKind.ACCOUNT_DELETION_SCHEDULED,
        NotificationKind.ACCOUNT_RESTORED,
        NotificationKind.DATA_EXPORT_READY,
        NotificationKind.DATA_EXPORT_FAILED,
    }
)

# Kinds whose e-mail reaches an account that is no longer active: the confirmation that it was
# closed at its owner's request (it says until when it can be restored). Every other e-mail
# stops at deactivation.
EMAIL_EVEN_IF_INACTIVE: frozenset[str] = frozenset({NotificationKind.ACCOUNT_DELETION_SCHEDULED})

# The e-mail's button, for kinds whose e-mail leads somewhere else than "open in Lyceum".
EMAIL_ACTION_LABELS: dict[str, str] = {
    NotificationKind.EMAIL_VERIFY: "Confirm my address",
    NotificationKind.EMAIL_CHANGE_CONFIRM: "Confirm my new address",
    NotificationKind.EMAIL_CHANGE_REQUESTED: "Reset my password",
    NotificationKind.ADDRESS_IN_USE: "Reset my password",
    NotificationKind.ACCOUNT_DELETION_SCHEDULED: "Sign in to restore my account",
    NotificationKind.DATA_EXPORT_READY: "Download my data",
}


def email_by_default(kind: str) -> bool:
    return EMAIL_BY_DEFAULT.get(kind, True)


def email_choosable(kind: str) -> bool:
    """Whether the user may switch this kind's e-mail on or off (preferences page and API)."""
    return kind not in EMAIL_ALWAYS


def choosable_kinds() -> list[str]:
    return [kind.value for kind in NotificationKind if email_choosable(kind.value)]


# Kinds whose body quotes chat messages: the back office never shows their body (docs/privacy.md).
MESSAGE_QUOTING_KINDS = frozenset(
    {NotificationKind.UNREAD_MESSAGES, NotificationKind.MENTION, NotificationKind.MESSAGE_REQUEST}
)


class Notification(models.Model):
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40, choices=NotificationKind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, max_length=2000)
    url = models.CharField(max_length=300, blank=True, help_text="Where the notification leads, a path on this site.")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="notif_recipient_recent_idx"),
            models.Index(fields=["recipient", "read_at"], name="notif_recipient_unread_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.recipient_id}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class EmailDelivery(models.Model):
    """The outbox row for one notification e-mail: survives a broker outage, sent exactly once.

    The Celery task claims the row, sends, and marks it sent; a periodic sweep re-queues rows
    still pending after a while (broker down at commit time, worker killed mid-send).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    notification = models.OneToOneField(Notification, on_delete=models.CASCADE, related_name="email_delivery")
    # Blank: the recipient's address when it is sent. Set: this address instead (a confirmation
    # link goes to the address being proven, not to the account's current one).
    to_address = models.EmailField(max_length=254, blank=True)
    # Blank: the e-mail's button opens the notification in Lyceum. Set: this full link instead,
    # a single-use link that must never show in the app, only in the mailbox. Erased once sent.
    action_url = models.CharField(max_length=2000, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "e-mail deliveries"
        indexes = [models.Index(fields=["status", "updated_at"], name="notif_delivery_sweep_idx")]

    def __str__(self) -> str:
        return f"e-mail for notification {self.notification_id}: {self.status}"


class NotificationPreference(models.Model):
    """An explicit choice by a user for one kind; with no row the kind's default applies."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=40, choices=NotificationKind.choices)
    email = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="notif_pref_user_kind_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: e-mail {'on' if self.email else 'off'}"
