"""Thin Celery tasks of the chat app: they take ids and call a service."""

from celery import shared_task

from chat import services


@shared_task(acks_late=True)
def email_unread_messages_task(conversation_id: int) -> int:
    """The batched unread-messages e-mail of one conversation (idempotent: see the service)."""
    return services.email_unread_messages(conversation_id=conversation_id)


@shared_task
def sweep_unread_emails_task() -> int:
    """Periodic (celery beat): unread e-mails whose delayed task never ran (broker down, worker lost)."""
    return len(services.sweep_unread_emails())
