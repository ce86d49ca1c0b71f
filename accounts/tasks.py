"""Thin Celery tasks of the accounts app: take ids, call a service, own their retries."""

import smtplib

from celery import shared_task

from accounts import data_export, deletion, services


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


@shared_task(acks_late=True)
def build_data_export_task(export_id: int) -> str:
    return data_export.build_data_export(export_id=export_id)


@shared_task
def expire_data_exports_task() -> int:
    """Beat: delete the files of expired data exports."""
    return data_export.expire_data_exports()


@shared_task
def erase_deleted_accounts_task() -> int:
    """Beat, hourly: erase the accounts whose deletion grace period ended."""
    return deletion.erase_due_accounts()
