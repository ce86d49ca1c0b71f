"""Friend requests, friendships, blocks and reports. The invariants live in the database.

A note on the "one pending request per pair" rule: MySQL and MariaDB ignore a UniqueConstraint
with a `condition` (Django's check W036), so a conditional constraint would hold on SQLite only.
Instead each request carries two stored generated columns, `pending_low`/`pending_high`: the
pair's smaller and larger user id while the request is pending, NULL once it is answered. A
plain unique constraint over them allows any number of answered requests (NULLs never collide)
and at most ONE pending request per unordered pair — on every backend. It also covers the
crossed race (A→B and B→A at once), which a per-ordered-pair rule would let through.
"""

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Q, When
from django.db.models.functions import Greatest, Least
from django.utils import timezone

NOTE_MAX_LENGTH = 200
REPORT_DETAILS_MAX_LENGTH = 2000


class FriendRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        CANCELLED = "cancelled", "Cancelled"

    from_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="friend_requests_sent", db_index=False
    )
    to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="friend_requests_received", db_index=False
    )
    note = models.CharField(max_length=NOTE_MAX_LENGTH, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    responded_at = models.DateTimeField(null=True, blank=True)
    pending_low = models.GeneratedField(
        expression=Case(When(status="pending", then=Least(F("from_user"), F("to_user"))), default=None),
        output_field=models.BigIntegerField(null=True),
        db_persist=True,
    )
    pending_high = models.GeneratedField(
        expression=Case(When(status="pending", then=Greatest(F("from_user"), F("to_user"))), default=None),
        output_field=models.BigIntegerField(null=True),
        db_persist=True,
    )

    class Meta:
        # Foreign keys carry no index of their own where a composite index below starts with them.
        constraints = [
            models.UniqueConstraint(fields=["pending_low", "pending_high"], name="social_one_pending_request_per_pair"),
            models.CheckConstraint(condition=~Q(from_user=F("to_user")), name="social_request_not_to_self"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "accepted", "declined", "cancelled"]),
                name="social_request_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(status="pending", responded_at__isnull=True)
                | (~Q(status="pending") & Q(responded_at__isnull=False)),
                name="social_request_responded_iff_answered",
            ),
        ]
        indexes = [
            # Incoming and outgoing request pages: a user's pending requests, newest first.
            models.Index(fields=["to_user", "status", "-created_at"], name="social_req_incoming_idx"),
            models.Index(fields=["from_user", "status", "-created_at"], name="social_req_outgoing_idx"),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.from_user_id} → {self.to_user_id} ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING


class Friendship(models.Model):
    """One row per unordered pair: the smaller user id is always `user_low`."""

    user_low = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    user_high = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user_low", "user_high"], name="social_one_friendship_per_pair"),
            models.CheckConstraint(condition=Q(user_low__lt=F("user_high")), name="social_friendship_ordered_pair"),
        ]
        # (user_low, …) is served by the unique index; this one serves lookups from the other side.
        indexes = [models.Index(fields=["user_high", "user_low"], name="social_friend_high_idx")]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user_low_id} ⇄ {self.user_high_id}"

    @staticmethod
    def ordered_ids(a_id: int, b_id: int) -> tuple[int, int]:
        return (a_id, b_id) if a_id < b_id else (b_id, a_id)

    def other_id(self, user_id: int) -> int:
        return self.user_high_id if user_id == self.user_low_id else self.user_low_id


class Block(models.Model):
    blocker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks_made", db_index=False
    )
    blocked = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks_received", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="social_one_block_per_pair"),
            models.CheckConstraint(condition=~Q(blocker=F("blocked")), name="social_block_not_self"),
        ]
        # (blocker, …) is served by the unique index; "who blocked me" by this one.
        indexes = [models.Index(fields=["blocked", "blocker"], name="social_block_blocked_idx")]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.blocker_id} blocks {self.blocked_id}"


class Report(models.Model):
    class Reason(models.TextChoices):
        SPAM = "spam", "Spam or scam"
        HARASSMENT = "harassment", "Harassment or bullying"
        HATE = "hate", "Hate speech"
        INAPPROPRIATE = "inappropriate", "Inappropriate content"
        IMPERSONATION = "impersonation", "Fake account or impersonation"
        OTHER = "other", "Something else"

    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reports_made", db_index=False
    )
    reported = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reports_received", db_index=False
    )
    reason = models.CharField(max_length=20, choices=Reason.choices)
    details = models.TextField(max_length=REPORT_DETAILS_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    handled = models.BooleanField(default=False)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="reports_handled"
    )
    staff_note = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(reporter=F("reported")), name="social_report_not_self"),
            models.CheckConstraint(
                condition=Q(reason__in=["spam", "harassment", "hate", "inappropriate", "impersonation", "other"]),
                name="social_report_reason_valid",
            ),
            models.CheckConstraint(
                condition=Q(handled=False) | Q(handled_at__isnull=False), name="social_report_handled_has_time"
            ),
        ]
        indexes = [
            # The moderation queue: unhandled first, oldest first.
            models.Index(fields=["handled", "created_at"], name="social_report_queue_idx"),
            models.Index(fields=["reported", "handled"], name="social_report_reported_idx"),
            models.Index(fields=["reporter", "reported", "handled"], name="social_report_dup_idx"),
        ]
        ordering = ["handled", "created_at", "id"]

    def __str__(self) -> str:
        return f"Report #{self.pk}: {self.get_reason_display()} ({'handled' if self.handled else 'open'})"
