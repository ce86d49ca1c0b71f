"""Help requests: a user asks, a verified expert of the category accepts, schedules a meeting,
completes it, and the user rates it.

The lifecycle is one explicit map, ALLOWED_TRANSITIONS; helpdesk.services.transition() is the
only code that changes `HelpRequest.status`, and it writes a HelpRequestEvent for each change.

"Released" (the expert gives a request back) is NOT a status: it is a timeline event whose
`action` is "released", taking the request from accepted/scheduled back to open. A transient
"released" status would be a state nobody can act on; the queue only knows "open", and the
timeline keeps who released it, when, and why (the note).
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from helpdesk.storage import document_storage, document_upload_to

TITLE_MAX_LENGTH = 150
DESCRIPTION_MAX_LENGTH = 5000
TIMES_NOTE_MAX_LENGTH = 1000
NOTE_MAX_LENGTH = 1000
FEEDBACK_MAX_LENGTH = 2000


class HelpRequestStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    SCHEDULED = "scheduled", "Scheduled"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


S = HelpRequestStatus

# status -> the statuses it may move to. Terminal statuses map to nothing.
#   accepted/scheduled -> open is "released" (the expert gives the request back).
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.OPEN: frozenset({S.ACCEPTED, S.CANCELLED, S.EXPIRED}),
    S.ACCEPTED: frozenset({S.SCHEDULED, S.OPEN, S.CANCELLED}),
    S.SCHEDULED: frozenset({S.COMPLETED, S.OPEN, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
}

# Statuses in which an expert holds the request (they count towards the expert's cap).
ACTIVE_STATUSES = (S.ACCEPTED, S.SCHEDULED)


class MeetingState(models.TextChoices):
    NONE = "none", "Not scheduled"
    PENDING = "pending", "Being created"
    CREATED = "created", "Ready"
    FAILED = "failed", "Could not be created"
    MANUAL = "manual", "Link added by the expert"


class HelpRequest(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="help_requests")
    category = models.ForeignKey("experts.Category", on_delete=models.PROTECT, related_name="help_requests")
    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    description = models.TextField(max_length=DESCRIPTION_MAX_LENGTH)
    # Anything about when the requester can meet that their slots (PreferredSlot) do not say.
    times_note = models.TextField(max_length=TIMES_NOTE_MAX_LENGTH, blank=True)
    status = models.CharField(max_length=12, choices=HelpRequestStatus.choices, default=HelpRequestStatus.OPEN)
    expert = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_help_requests",
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    scheduled_start = models.DateTimeField(null=True, blank=True)
    scheduled_end = models.DateTimeField(null=True, blank=True)
    meeting_state = models.CharField(max_length=10, choices=MeetingState.choices, default=MeetingState.NONE)
    meeting_join_url = models.URLField(max_length=2000, blank=True)
    meeting_id = models.CharField(max_length=500, blank=True)
    meeting_provider = models.CharField(max_length=20, blank=True)
    meeting_error = models.CharField(max_length=500, blank=True)
    # One per scheduling attempt (schedule, reschedule, or a new accept after a release): the
    # provider's idempotency key (Graph createOrGet externalId). A retried task reuses it, so it
    # gets the same meeting; a new attempt gets a new meeting, never a former expert's one.
    meeting_external_id = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    # How many times this request's session was (re)scheduled: the .ics SEQUENCE, so calendars
    # update the event (same UID) instead of adding a second one. Never goes back.
    schedule_sequence = models.PositiveIntegerField(default=0, editable=False)
    # Exactly-once markers, claimed with a conditional UPDATE before sending.
    # "Submit it again": the expired or cancelled request this one repeats (once each).
    resubmitted_from = models.OneToOneField(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="resubmitted_as"
    )
    # "Ask <name> for help": the expert asked first. While `direct_until` is set the request is
    # in that expert's queue only; at that moment (or when they decline) it goes to the
    # category's queue and `direct_until` is cleared. `direct_expert` stays as the record.
    direct_expert = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    direct_until = models.DateTimeField(null=True, blank=True)
    meeting_email_sent_at = models.DateTimeField(null=True, blank=True)
    reminder_hour_sent_at = models.DateTimeField(null=True, blank=True)
    reminder_minutes_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The expert queue: open requests of some categories, oldest first.
            models.Index(fields=["status", "category", "created_at"], name="help_queue_idx"),
            models.Index(fields=["requester", "-created_at"], name="help_requester_idx"),
            models.Index(fields=["expert", "status"], name="help_expert_status_idx"),
            models.Index(fields=["status", "scheduled_start"], name="help_reminder_idx"),
            models.Index(fields=["meeting_state"], name="help_meeting_state_idx"),
            models.Index(fields=["status", "direct_until"], name="help_direct_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(scheduled_start__isnull=True)
                | Q(scheduled_end__isnull=True)
                | Q(scheduled_end__gt=F("scheduled_start")),
                name="help_session_ends_after_start",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["accepted", "scheduled"]) | Q(expert__isnull=False),
                name="help_held_request_has_expert",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("helpdesk:detail", kwargs={"public_id": self.public_id})

    @property
    def is_terminal(self) -> bool:
        return not ALLOWED_TRANSITIONS[self.status]

    @property
    def has_meeting_link(self) -> bool:
        return bool(self.meeting_join_url) and self.meeting_state in (MeetingState.CREATED, MeetingState.MANUAL)

    @property
    def is_direct(self) -> bool:
        """Open and still waiting for the expert it was addressed to (not yet in the queue)."""
        return self.status == HelpRequestStatus.OPEN and self.direct_until is not None


class PreferredSlot(models.Model):
    """A time range in which the requester can meet, given when they ask (in their zone, stored
    in UTC). The expert picks a session inside one of them, or proposes another time."""

    request = models.ForeignKey(HelpRequest, on_delete=models.CASCADE, related_name="slots")
    start = models.DateTimeField()
    end = models.DateTimeField()

    class Meta:
        ordering = ["start", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="help_slot_ends_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M}-{self.end:%H:%M} UTC"

    def holds(self, start, end) -> bool:
        """Whether a session from start to end lies inside this slot."""
        return self.start <= start and end <= self.end


class HelpRequestEvent(models.Model):
    """One append-only timeline entry. Services only ever create these; the admin is read-only."""

    class Action(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        ACCEPTED = "accepted", "Accepted"
        RELEASED = "released", "Released back to the queue"
        SCHEDULED = "scheduled", "Session scheduled"
        RESCHEDULED = "rescheduled", "Session moved"
        MEETING_CREATED = "meeting_created", "Meeting link ready"
        MEETING_FAILED = "meeting_failed", "The meeting could not be created"
        MEETING_LINK_SET = "meeting_link_set", "Meeting link added by the expert"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"
        REASSIGNED = "reassigned", "Reassigned by staff"
        RATED = "rated", "Rated"
        RESUBMITTED = "resubmitted", "Submitted again"
        DIRECT_DECLINED = "direct_declined", "Declined by the expert asked"
        SENT_TO_QUEUE = "sent_to_queue", "Sent to every expert of the subject"

    request = models.ForeignKey(HelpRequest, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    from_status = models.CharField(max_length=12, choices=HelpRequestStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=HelpRequestStatus.choices)
    note = models.TextField(max_length=NOTE_MAX_LENGTH, blank=True)
    # Scheduled / rescheduled: the session time this entry set (and, for a move, the start it
    # had before). Stored as instants so that each reader's timeline shows them in their zone.
    session_start = models.DateTimeField(null=True, blank=True)
    session_end = models.DateTimeField(null=True, blank=True)
    previous_start = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["request", "created_at"], name="help_event_timeline_idx")]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.action} {self.from_status or '∅'} → {self.to_status}"


class HelpDocument(models.Model):
    """A file attached to a request. The stored bytes are Fernet ciphertext (helpdesk.documents)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    request = models.ForeignKey(HelpRequest, on_delete=models.CASCADE, related_name="documents")
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=120)
    size = models.PositiveIntegerField(help_text="Plaintext size in bytes.")
    file = models.FileField(storage=document_storage, upload_to=document_upload_to, max_length=300)
    sha256 = models.CharField(max_length=64, help_text="Of the plaintext.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.original_name

    def get_absolute_url(self) -> str:
        return reverse("helpdesk:document", kwargs={"public_id": self.request.public_id, "document_id": self.public_id})


class Rating(models.Model):
    request = models.OneToOneField(HelpRequest, on_delete=models.CASCADE, related_name="rating")
    stars = models.PositiveSmallIntegerField()
    feedback = models.TextField(max_length=FEEDBACK_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(stars__gte=1) & Q(stars__lte=5), name="help_rating_stars_1_to_5"),
        ]

    def __str__(self) -> str:
        return f"{self.stars}★ for request {self.request_id}"
