"""Private file storage shared by the apps that keep files nobody may fetch by URL (chat
attachments, help-request documents). Settings-free at import: every value is read at call time,
so tests can point a storage at a temporary directory.

Local: a FileSystemStorage OUTSIDE MEDIA_ROOT (the directory named by `root_setting`, default
`<BASE_DIR>/private-media/<default_subdir>`), so /media/ never serves the files and they have no
URL. S3 (AWS_STORAGE_BUCKET_NAME set): the project's default storage (private objects with
server-side encryption). On both, every download goes through the app's permission-checked views.
"""

from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages


class PrivateFileSystemStorage(FileSystemStorage):
    """Reads its location from settings on every use; never gives a URL."""

    def __init__(self, *, root_setting: str, default_subdir: str, refusal: str):
        super().__init__(base_url=None)
        self.root_setting, self.default_subdir, self.refusal = root_setting, default_subdir, refusal

    @property
    def base_location(self):
        root = getattr(settings, self.root_setting, None)
        return str(root) if root else str(Path(settings.BASE_DIR) / "private-media" / self.default_subdir)

    @property
    def location(self):
        return str(Path(self.base_location).resolve())

    def url(self, name):
        raise NotImplementedError(self.refusal)


class PrivateStorage(Storage):
    """Chooses S3 or the private local storage at call time (settings can change in tests)."""

    def __init__(self, *, root_setting: str, default_subdir: str, refusal: str):
        self.refusal = refusal
        self.local = PrivateFileSystemStorage(root_setting=root_setting, default_subdir=default_subdir, refusal=refusal)

    def _target(self) -> Storage:
        if getattr(settings, "AWS_STORAGE_BUCKET_NAME", ""):
            return storages["default"]
        return self.local

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
        raise NotImplementedError(self.refusal)
