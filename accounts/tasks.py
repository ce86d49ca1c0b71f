"""Thin Celery tasks of the accounts app: take ids, call a service, own their retries."""

import smtplib

from celery import shared_task

from accounts import services


@shared_task(
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
    acks_late=True,
)
def send_password_reset_email_task(user_id: int) -> bool:
    return services.send_password_reset_email(user_id=user_id)
