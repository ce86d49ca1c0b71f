"""What each app does with one person's data when they close their account or download it.

accounts sits below the apps that hold most of a person's data (friends, conversations, help
requests), so it cannot reach into them. Each of those apps registers one AccountDataHandler in
its AppConfig.ready (the project's hook pattern, like experts' standing-withdrawn handler), and
accounts.deletion and accounts.data_export call every registered handler:

- `on_closing(user)`: inside the transaction that deactivates an account at its owner's request
  (hand back what others wait on: held help requests, open requests);
- `erase(user, former_name)`: inside the transaction that erases the account after the grace
  period, with the account already renamed and the full name it had (delete or anonymise what
  is the person's, keep what others received, and replace the name where text stored it);
- `export(user, archive)`: while the "download my data" archive is built, write the app's part
  into `archive` (an ExportArchive: JSON documents and files, safe names, bounded size and time).
"""

import json
import re
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder

from accounts.models import User


class ExportTooLarge(Exception):
    """The archive passed ACCOUNT_EXPORT_MAX_BYTES or ACCOUNT_EXPORT_MAX_SECONDS."""


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
SEGMENT_MAX = 80
COPY_CHUNK = 1024 * 1024


def safe_segment(text: object, *, fallback: str = "file") -> str:
    """One path segment of a zip entry from any text (a user's file or group name): ASCII letters,
    digits, dot, dash and underscore only, no leading dot (no "..", no hidden files), at most 80
    characters, never empty. Opening the archive anywhere writes only inside its folder."""
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")
    cleaned = _UNSAFE.sub("-", ascii_text).strip("-. ")
    if len(cleaned) > SEGMENT_MAX:
        stem, dot, suffix = cleaned.rpartition(".")
        if dot and 0 < len(suffix) <= 10:
            cleaned = stem[: SEGMENT_MAX - len(suffix) - 1].rstrip("-.") + "." + suffix
        else:
            cleaned = cleaned[:SEGMENT_MAX].rstrip("-.")
    return cleaned or fallback


def safe_path(path: str) -> str:
    return "/".join(safe_segment(part) for part in path.split("/") if part.strip())


class ExportArchive:
    """The zip being built: every entry name is made safe and unique, and the bytes written and the
    time spent are bounded (ExportTooLarge past either bound)."""

    def __init__(self, zip_file: zipfile.ZipFile, *, max_bytes: int, max_seconds: float):
        self._zip = zip_file
        self._max_bytes = max_bytes
        self._deadline = time.monotonic() + max_seconds
        self.bytes_written = 0
        self.names: list[str] = []

    def _check(self, more: int) -> None:
        if self.bytes_written + more > self._max_bytes:
            raise ExportTooLarge("Your data is larger than an export may be.")
        if time.monotonic() > self._deadline:
            raise ExportTooLarge("Your data took too long to gather.")

    def _unique(self, path: str) -> str:
        name = safe_path(path) or "file"
        if name not in self.names:
            return name
        stem, dot, suffix = name.rpartition(".")
        if not dot or "/" in suffix:
            stem, suffix = name, ""
        number = 2
        while True:
            candidate = f"{stem}-{number}.{suffix}" if suffix else f"{stem}-{number}"
            if candidate not in self.names:
                return candidate
            number += 1

    def add_json(self, path: str, data: object) -> str:
        payload = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2).encode("utf-8")
        return self.add_bytes(path, payload)

    def add_bytes(self, path: str, data: bytes) -> str:
        self._check(len(data))
        name = self._unique(path)
        self._zip.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
        self.bytes_written += len(data)
        self.names.append(name)
        return name

    def add_file(self, path: str, stored_file) -> str:
        """Copy an open file (a FieldFile or storage file) into the archive in chunks."""
        name = self._unique(path)
        info = zipfile.ZipInfo(name, date_time=time.gmtime()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        with self._zip.open(info, mode="w") as entry:
            while chunk := stored_file.read(COPY_CHUNK):
                self._check(len(chunk))
                entry.write(chunk)
                self.bytes_written += len(chunk)
        self.names.append(name)
        return name


def person(user: User | None) -> dict | None:
    """How an export names another person: their public id and the name others see."""
    if user is None:
        return None
    return {"id": str(user.public_id), "name": user.get_full_name()}


@dataclass(frozen=True)
class AccountDataHandler:
    """One app's part in closing, erasing and exporting an account (see the module docstring)."""

    app: str
    on_closing: Callable[[User], None] | None = None
    erase: Callable[[User, str], None] | None = None
    export: Callable[[User, ExportArchive], None] | None = None


_handlers: dict[str, AccountDataHandler] = {}


def register_account_data_handler(handler: AccountDataHandler) -> None:
    """Called once per app from its AppConfig.ready; registering the same app again replaces it."""
    _handlers[handler.app] = handler


def account_data_handlers() -> Iterable[AccountDataHandler]:
    return list(_handlers.values())
