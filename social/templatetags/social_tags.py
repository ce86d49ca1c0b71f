"""Template helpers of the social app.

`{% relationship_for person as rel %}` gives the viewer's relationship to `person`
(rel.state: self, friend, request_sent, request_received, none, blocked, blocked_by; and
rel.sent_request_id / rel.received_request_id). It uses the annotations of the directory's
selectors when the person carries them, and asks the database (two small queries) otherwise,
e.g. on a profile page.
"""

from django import template

from social import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def relationship_for(context, person) -> selectors.Relationship:
    request = context.get("request")
    viewer = getattr(request, "user", None)
    if viewer is None or not viewer.is_authenticated or person is None:
        return selectors.Relationship(selectors.NONE)
    return selectors.relationship_of(viewer=viewer, person=person)


@register.simple_tag(takes_context=True)
def incoming_request_count(context) -> int:
    """Pending friend requests waiting for the viewer (for a badge)."""
    request = context.get("request")
    viewer = getattr(request, "user", None)
    if viewer is None or not viewer.is_authenticated:
        return 0
    return selectors.incoming_request_count(user=viewer)
