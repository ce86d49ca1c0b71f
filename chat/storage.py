"""Where chat attachments live.

Local: a FileSystemStorage OUTSIDE MEDIA_ROOT (settings.CHAT_ATTACHMENT_ROOT, default
`<BASE_DIR>/private-media/chat`), so /media/ never serves them and they have no URL: every
download goes through the permission-checked views. S3 (AWS_STORAGE_BUCKET_NAME set): the
project's default storage (private objects, server-side encryption), still served through
the views.
"""

from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages


class PrivateAttachmentStorage(FileSystemStorage):
    """Reads its location from settings on every use, so tests can point it at a tmp dir."""

    def __init__(self):
        super().__init__(base_url=None)

    @property
    def base_location(self):
        root = getattr(settings, "CHAT_ATTACHMENT_ROOT", None)
        return str(root) if root else str(Path(settings.BASE_DIR) / "private-media" / "chat")

    @property
    def location(self):
        return str(Path(self.base_location).resolve())

    def url(self, name):  # never a public URL
        raise NotImplementedError("Chat attachments are served only by the permission-checked views.")


_local = PrivateAttachmentStorage()


class _AttachmentStorage(Storage):
    """Chooses S3 or the private local storage at call time (settings can change in tests)."""

    def _target(self) -> Storage:
        if getattr(settings, "AWS_STORAGE_BUCKET_NAME", ""):
            return storages["default"]
        return _local

    def _open(self, name, mode="rb"):
        return self._target()._open(name, mode)

    def _save(self, name, content):
        return self._target()._save(name, content)

    def get_available_name(self, name, max_length=None):
        return self._target().get_available_name(name, max_length=max_length)

    def generate_filename(self, filename):
        return self._target().generate_filename(filename)

    def delete(self, name):
        return self._target().delete(name)

    def exists(self, name):
        return self._target().exists(name)

    def size(self, name):
        return self._target().size(name)

    def path(self, name):
        return self._target().path(name)

    def url(self, name):
        raise NotImplementedError("Chat attachments are served only by the permission-checked views.")


_attachment_storage = _AttachmentStorage()


def attachment_storage() -> Storage:
    return _attachment_storage
