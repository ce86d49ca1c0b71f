"""Services of "download my data": a zip of JSON documents and files with everything Lyceum keeps
about the person, built by a Celery task and offered to its owner only, for a limited time.

- `request_data_export` records a pending DataExport and queues `build_data_export_task` after
  commit (eager in the embedded default: it is ready when the page comes back).
- `build_data_export` writes the archive: the account's own part (profile, picture,
  notifications), then each app's part through its registered handler (accounts.personal_data):
  friends, conversations with the messages sent and received there and the files the person sent,
  help requests with their documents, ratings. Every entry name is made safe; the content is
  bounded by ACCOUNT_EXPORT_MAX_BYTES and the time by ACCOUNT_EXPORT_MAX_SECONDS, past which the
  export fails with a message instead of growing. The owner is told (in the app and by e-mail)
  with a link that only they can follow, until ACCOUNT_EXPORT_LINK_HOURS have passed.
- `expire_data_exports` (beat) deletes the files of expired exports.
"""

import logging
import tempfile
import zipfile
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import DataExport, User
from accounts.personal_data import ExportArchive, ExportTooLarge, account_data_handlers, safe_segment
from accounts.services import AccountRefusal
from config.timezones import format_moment, in_zone_of
from notifications import selectors as notification_selectors
from notifications import services as notification_services
from notifications.models import NotificationKind

logger = logging.getLogger(__name__)

# A new export may be asked for this long after the previous one (each one reads everything).
EXPORT_INTERVAL = timedelta(minutes=10)
# A pending export older than this lost its task (worker killed): it is failed, so a new one can start.
PENDING_GIVE_UP_AFTER = timedelta(hours=1)
EXPORT_PENDING = "Your data is being prepared. We will tell you when it is ready."
EXPORT_THROTTLED = "You asked for your data a moment ago. Try again in a few minutes."

Status = DataExport.Status


def _site_link(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def download_path(export: DataExport) -> str:
    return reverse("accounts:data_export_download", kwargs={"export_id": export.public_id})


def _enqueue_build(export_id: int) -> None:
    from accounts.tasks import build_data_export_task  # tasks import this module

    try:
        build_data_export_task.delay(export_id)
    except Exception:  # the row stays pending; the sweep fails it after an hour and the owner may ask again
        logger.exception("could not build or queue data export %s", export_id)


@transaction.atomic
def request_data_export(*, user: User) -> DataExport:
    """Ask for an archive of one's data. Refused (AccountRefusal, 400) while one is being prepared
    (code "export_pending") or within EXPORT_INTERVAL of the previous one ("throttled")."""
    locked = User.objects.select_for_update().get(pk=user.pk)
    latest = DataExport.objects.filter(user=locked).order_by("-requested_at", "-pk").first()
    if latest is not None and latest.status == Status.PENDING:
        raise AccountRefusal(EXPORT_PENDING, code="export_pending")
    if latest is not None and latest.requested_at > timezone.now() - EXPORT_INTERVAL:
        raise AccountRefusal(EXPORT_THROTTLED, code="throttled", status=400)  # a day apart, not a rate
    export = DataExport.objects.create(user=locked)
    transaction.on_commit(partial(_enqueue_build, export.pk))
    return export


def _account_part(user: User, archive: ExportArchive) -> None:
    archive.add_json(
        "profile.json",
        {
            "id": str(user.public_id),
            "email": user.email,
            "email_confirmed_at": user.email_verified_at,
            "pending_email": user.pending_email or None,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "university": user.university,
            "course": user.course,
            "bio": user.bio,
            "interests": user.interest_list,
            "time_zone": user.time_zone,
            "date_joined": user.date_joined,
            "last_login": user.last_login,
            "avatar": None,
        },
    )
    if user.avatar:
        with user.avatar.open("rb") as picture:
            archive.add_file(
                "profile/" + safe_segment(user.avatar.name.rsplit("/", 1)[-1], fallback="avatar.webp"), picture
            )
    archive.add_json(
        "notifications.json",
        [
            {
                "kind": notification.kind,
                "title": notification.title,
                "body": notification.body,
                "link": notification.url,
                "created_at": notification.created_at,
                "read_at": notification.read_at,
            }
            for notification in notification_selectors.notifications_for(user=user).order_by("created_at", "pk")
        ],
    )


README = """Your data from {site}, as of {when} (UTC).

profile.json          your account and profile; profile/ holds your picture
notifications.json    what {site} told you
social/               your friends, friend requests and blocks
chat/                 each conversation you are in: its messages (sent and received) and the files you sent
helpdesk/             your help requests with their timeline and documents, and ratings
experts/              your expert profile, if you have one
manifest.json         every file in this archive

Dates are ISO 8601 in UTC. People are named by their public id and the name others see.
"""


def _write_archive(user: User, target) -> list[str]:
    with zipfile.ZipFile(target, mode="w", compression=zipfile.ZIP_DEFLATED) as zip_file:
        archive = ExportArchive(
            zip_file, max_bytes=settings.ACCOUNT_EXPORT_MAX_BYTES, max_seconds=settings.ACCOUNT_EXPORT_MAX_SECONDS
        )
        archive.add_bytes(
            "README.txt", README.format(site=settings.SITE_NAME, when=timezone.now().isoformat()).encode("utf-8")
        )
        _account_part(user, archive)
        for handler in account_data_handlers():
            if handler.export is not None:
                handler.export(user, archive)
        archive.add_json("manifest.json", {"files": sorted(archive.names)})
        return archive.names


def _fail(export: DataExport, reason: str) -> None:
    with transaction.atomic():
        DataExport.objects.filter(pk=export.pk, status=Status.PENDING).update(status=Status.FAILED, error=reason[:300])
        notification_services.notify(
            recipient=export.user,
            kind=NotificationKind.DATA_EXPORT_FAILED,
            title="We could not prepare your data",
            body=f"{reason} Ask again from your account's privacy page, or contact us if it keeps failing.",
            url=reverse("accounts:privacy"),
        )


def build_data_export(*, export_id: int) -> str:
    """Build one pending export (the task's body). Returns the export's resulting status; an export
    that is not pending, or whose owner is no longer active, is left alone ("noop")."""
    export = DataExport.objects.select_related("user").filter(pk=export_id, status=Status.PENDING).first()
    if export is None or not export.user.is_active:
        return "noop"
    user = export.user
    with tempfile.TemporaryFile() as target:
        try:
            _write_archive(user, target)
        except ExportTooLarge as exc:
            logger.warning("data export %s of user %s stopped: %s", export.pk, user.pk, exc)
            _fail(export, str(exc))
            return Status.FAILED
        size = target.tell()
        target.seek(0)
        export.file.save(f"{export.public_id.hex}.zip", File(target), save=False)
    now = timezone.now()
    export.status, export.ready_at, export.size = Status.READY, now, size
    export.expires_at = now + timedelta(hours=settings.ACCOUNT_EXPORT_LINK_HOURS)
    with transaction.atomic():
        export.save(update_fields=["file", "status", "ready_at", "size", "expires_at"])
        with in_zone_of(user):
            until = format_moment(export.expires_at)
        notification_services.notify(
            recipient=user,
            kind=NotificationKind.DATA_EXPORT_READY,
            title="Your data is ready to download",
            body=(
                f"The archive of your data ({max(1, size // 1024):,} KB, a zip of JSON files and your files) can be "
                f"downloaded until {until}, by you only: sign in to download it."
            ),
            url=reverse("accounts:privacy"),
            email_link=_site_link(download_path(export)),
        )
    logger.info("data export %s of user %s ready (%s bytes)", export.pk, user.pk, size)
    return Status.READY


def expire_data_exports(*, now=None) -> int:
    """Beat: delete the files of exports past their time, and fail exports whose task was lost.
    Returns how many files were deleted."""
    now = now or timezone.now()
    DataExport.objects.filter(status=Status.PENDING, requested_at__lt=now - PENDING_GIVE_UP_AFTER).update(
        status=Status.FAILED, error="The export was not finished in time."
    )
    expired = 0
    for export in DataExport.objects.filter(status=Status.READY, expires_at__lte=now).order_by("pk")[:500]:
        name = export.file.name
        with transaction.atomic():
            DataExport.objects.filter(pk=export.pk).update(status=Status.EXPIRED, file="", size=0)
        if name:
            try:
                export.file.storage.delete(name)
            except Exception:
                logger.exception("could not delete the file of expired data export %s", export.pk)
        expired += 1
    return expired
