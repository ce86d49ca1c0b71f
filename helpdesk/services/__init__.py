"""Every write of the help desk. Keyword-only, atomic, side effects after commit.

A package by concern, its public API re-exported here (callers use `services.<name>`):
lifecycle (transition, timeline entries, scoped lookups, live pushes through
live.push), requests (the requester's side), sessions (the expert's side), meetings (a
meeting's outcome, its e-mail, reminders; called by tasks) and backoffice (admin actions).

Every status change goes through `transition()`: it refuses what ALLOWED_TRANSITIONS does not
allow (the one state rule: "A completed request cannot be released"), appends the
HelpRequestEvent and pushes the change live after commit (the queue when a request leaves or
comes back to "open", the request's people always); `record_event()` does the same for an entry
that changes no status, and `tell()` is how a write tells one of the request's people. So a
write reads: find and authorise (a scoped, locked lookup), check what only it checks, change,
transition or record, tell. Lookups are scoped to the caller (the requester's
own request, the assigned expert's request): someone else's id is HelpRequest.DoesNotExist,
exactly like an id that does not exist. Rule refusals are HelpdeskRefusal (config.refusals.Refusal)
with a `code` (a refused input stays a ValidationError):

    illegal_transition, not_open (taken by someone else), not_verified, cap_reached,
    own_request, not_completed, already_rated, meeting_state, not_started, unverified

Every action of the expert holding a request goes through `sessions._held_by()`, the one
fetch-and-authorise step: the request must be held by that expert AND the expert must still be
in good standing (an approved profile of an active account) at that moment. Approval is what
lets an expert hold requests, so losing it hands them all back: `release_held_requests()` runs
when staff withdraw an approval (experts.services.reject_expert, through its hook), and
`release_requests_without_standing()` (beat) catches every other way of losing standing
(a deactivated account, a deleted profile).

Times in what a user is told (notification titles) are written in THAT user's zone
(config.timezones.in_zone_of), whoever caused the event. The timeline stores instants and
each reader's page renders them.
"""

from helpdesk.services.backoffice import (
    reassign_help_request,
    staff_cancel_help_request,
)
from helpdesk.services.lifecycle import (
    MAX_SESSION,
    MIN_SESSION,
    HelpdeskRefusal,
    cancel,
    clean_text,
    direct_window,
    enqueue_meeting_creation,
    enqueue_meeting_email,
    expert_profile_id,
    held_count,
    locked_for_expert,
    locked_request,
    parse_request_id,
    push_changed_on_commit,
    push_queue_on_commit,
    record_event,
    session_time_for,
    tell,
    transition,
    window_text,
)
from helpdesk.services.meetings import (
    REMINDERS,
    SWEEP_PENDING_AFTER,
    pending_meeting,
    record_meeting_created,
    record_meeting_failed,
    send_due_reminders,
    send_meeting_email_once,
    sweep_pending_meetings,
)
from helpdesk.services.requests import (
    RESUBMITTABLE,
    cancel_help_request,
    decline_direct_request,
    expire_stale_requests,
    rate_help_request,
    release_lapsed_direct_requests,
    submit_help_request,
)
from helpdesk.services.sessions import (
    NO_STANDING_MESSAGE,
    STANDING_RELEASE_BODY,
    STANDING_RELEASE_NOTE,
    accept_help_request,
    complete_help_request,
    release_held_requests,
    release_help_request,
    release_on_withdrawn_approval,
    release_requests_without_standing,
    reschedule_session,
    schedule_session,
    set_manual_meeting_link,
)

__all__ = [
    "MAX_SESSION",
    "MIN_SESSION",
    "NO_STANDING_MESSAGE",
    "REMINDERS",
    "RESUBMITTABLE",
    "STANDING_RELEASE_BODY",
    "STANDING_RELEASE_NOTE",
    "SWEEP_PENDING_AFTER",
    "HelpdeskRefusal",
    "accept_help_request",
    "cancel",
    "cancel_help_request",
    "clean_text",
    "complete_help_request",
    "decline_direct_request",
    "direct_window",
    "enqueue_meeting_creation",
    "enqueue_meeting_email",
    "expert_profile_id",
    "expire_stale_requests",
    "held_count",
    "locked_for_expert",
    "locked_request",
    "parse_request_id",
    "pending_meeting",
    "push_changed_on_commit",
    "push_queue_on_commit",
    "rate_help_request",
    "reassign_help_request",
    "record_event",
    "record_meeting_created",
    "record_meeting_failed",
    "release_held_requests",
    "release_help_request",
    "release_lapsed_direct_requests",
    "release_on_withdrawn_approval",
    "release_requests_without_standing",
    "reschedule_session",
    "schedule_session",
    "send_due_reminders",
    "send_meeting_email_once",
    "session_time_for",
    "set_manual_meeting_link",
    "staff_cancel_help_request",
    "submit_help_request",
    "sweep_pending_meetings",
    "tell",
    "transition",
    "window_text",
]
