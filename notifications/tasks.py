"""Thin Celery tasks: take ids, call a service, own their retries."""

from celery import shared_task
from django.contrib.auth import get_user_model

from notifications import services


@shared_task(
    bind=True,
    autoretry_for=(services.TransientEmailError,),
    retry_backoff=5,  # 5 s, 10 s, 20 s, … with jitter
    retry_backoff_max=600,
    retry_jitter=True,
    # The delivery row counts attempts and fails itself after EMAIL_MAX_ATTEMPTS; this is
    # only a ceiling in case the row and Celery disagree.
    max_retries=services.EMAIL_MAX_ATTEMPTS,
    acks_late=True,
)
def send_notification_email_task(self, delivery_id: int) -> str:
    return services.deliver_notification_email(delivery_id=delivery_id)


@shared_task
def sweep_pending_emails_task() -> int:
    """Beat, every minute: queue again e-mails whose task was lost."""
    return len(services.sweep_stale_deliveries())


@shared_task(acks_late=True)
def notify_user_task(user_id: int, kind: str, title: str, body: str = "", url: str = "") -> int | None:
    """notify() from a worker (announcements, scheduled reminders). Returns the notification id."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None
    return services.notify(recipient=user, kind=kind, title=title, body=body, url=url).pk
