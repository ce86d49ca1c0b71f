"""Live events of the help desk, defined once. They travel through
live.push.push_on_commit and reach the page as DOM events `live:<type>`
(static/js/helpdesk.js listens to them on the expert queue)."""

from typing import Any

QUEUE_ADDED = "helpdesk.queue.added"  # a request is open in the expert's categories
QUEUE_REMOVED = "helpdesk.queue.removed"  # taken, cancelled or expired: drop it from the queue
REQUEST_CHANGED = "helpdesk.request.changed"  # the requester's / expert's detail page may reload


def queue_added_event(help_request) -> dict[str, Any]:
    return {
        "type": QUEUE_ADDED,
        "request": str(help_request.public_id),
        "category": help_request.category_id,
        "title": help_request.title,
    }


def queue_removed_event(help_request) -> dict[str, Any]:
    return {"type": QUEUE_REMOVED, "request": str(help_request.public_id)}


def request_changed_event(help_request) -> dict[str, Any]:
    return {
        "type": REQUEST_CHANGED,
        "request": str(help_request.public_id),
        "status": help_request.status,
        "meeting_state": help_request.meeting_state,
    }
