"""Builders for help requests in a given state, through the services (so the timeline is real)."""

from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from helpdesk import services

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def pdf(name="notes.pdf", data=PDF_BYTES):
    return SimpleUploadedFile(name, data, content_type="application/pdf")


def png_bytes(size=(4, 4)) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(buffer, "PNG")
    return buffer.getvalue()


def submit(requester, category, *, title="Stuck on eigenvalues", files=(), **kwargs):
    return services.submit_help_request(
        requester=requester,
        category_id=category.pk,
        title=title,
        description=kwargs.pop("description", "I cannot find the eigenvalues of a 3x3 matrix."),
        slots=kwargs.pop("slots", ()),
        times_note=kwargs.pop("times_note", "Weekdays after 18:00"),
        files=list(files),
    )


def accepted(requester, category, expert, **kwargs):
    help_request = submit(requester, category, **kwargs)
    return services.accept_help_request(expert=expert, request_id=help_request.public_id)


def session_times(hours_from_now=24, minutes=60):
    start = timezone.now() + timedelta(hours=hours_from_now)
    return start, start + timedelta(minutes=minutes)


def scheduled(requester, category, expert, **kwargs):
    help_request = accepted(requester, category, expert, **kwargs)
    start, end = session_times()
    return services.schedule_session(expert=expert, request_id=help_request.public_id, start=start, end=end)


def started(help_request, *, minutes_ago=30):
    """Move a scheduled session into the past, as if its time had come (scheduling refuses a
    past start, and completion refuses a session that has not started)."""
    from helpdesk.models import HelpRequest

    if help_request.status != "scheduled":  # no session waiting: nothing to move
        return help_request
    length = help_request.scheduled_end - help_request.scheduled_start
    start = timezone.now() - timedelta(minutes=minutes_ago)
    HelpRequest.objects.filter(pk=help_request.pk).update(scheduled_start=start, scheduled_end=start + length)
    help_request.scheduled_start, help_request.scheduled_end = start, start + length
    return help_request


def completed(requester, category, expert, **kwargs):
    help_request = started(scheduled(requester, category, expert, **kwargs))
    return services.complete_help_request(expert=expert, request_id=help_request.public_id)
