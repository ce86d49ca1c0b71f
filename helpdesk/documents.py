"""Help-request documents: what we accept (decided from the bytes, never from the name or the
browser's Content-Type) and how they are kept (Fernet-encrypted by the application).

Keys: settings.HELPDESK_DOCUMENT_KEYS, a list of Fernet keys. The first encrypts, all of them
decrypt, so a key is rotated by putting a new one first and keeping the old ones until every
file has been re-encrypted or deleted. With no keys set, DEBUG derives one from SECRET_KEY
(development only); anywhere else that is a configuration error.
"""

import base64
import hashlib
import io
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import PurePath

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.template.defaultfilters import filesizeformat
from PIL import Image, UnidentifiedImageError

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_REQUEST_BYTES = 25 * 1024 * 1024
MAX_FILES = 5
NAME_MAX_LENGTH = 200

ACCEPT_ATTRIBUTE = ".pdf,.png,.jpg,.jpeg,.webp,.docx,.xlsx,.pptx,.txt,.md,.csv"
ALLOWED_DESCRIPTION = "PDF, PNG, JPEG, WEBP, Word (.docx), Excel (.xlsx), PowerPoint (.pptx) or plain text"


@dataclass(frozen=True)
class Kind:
    content_type: str
    extensions: tuple[str, ...]


PDF = Kind("application/pdf", (".pdf",))
PNG = Kind("image/png", (".png",))
JPEG = Kind("image/jpeg", (".jpg", ".jpeg"))
WEBP = Kind("image/webp", (".webp",))
DOCX = Kind("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (".docx",))
XLSX = Kind("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (".xlsx",))
PPTX = Kind("application/vnd.openxmlformats-officedocument.presentationml.presentation", (".pptx",))
TEXT = Kind("text/plain", (".txt", ".md", ".csv"))

_IMAGE_KINDS = {"PNG": PNG, "JPEG": JPEG, "WEBP": WEBP}
_OFFICE_PARTS = (("word/document.xml", DOCX), ("xl/workbook.xml", XLSX), ("ppt/presentation.xml", PPTX))


@dataclass(frozen=True)
class CheckedFile:
    name: str
    content_type: str
    data: bytes
    sha256: str


def _detect(data: bytes) -> Kind | None:
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, ValueError, OSError):
            return None
        if "[Content_Types].xml" not in names:
            return None
        for part, kind in _OFFICE_PARTS:
            if part in names:
                return kind
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=tuple(_IMAGE_KINDS)) as image:
                image.verify()
                return _IMAGE_KINDS.get(image.format or "")
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        pass
    except (OSError, SyntaxError, ValueError, TypeError):
        return None  # claims to be an image, is broken
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\r\n\f" for ch in text):
        return None  # control bytes: a binary file that happens to decode
    return TEXT


def clean_name(name: str) -> str:
    """The last path component, without control characters, at most NAME_MAX_LENGTH long."""
    base = PurePath((name or "").replace("\\", "/")).name
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip().strip(".") or "document"
    if len(base) > NAME_MAX_LENGTH:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: NAME_MAX_LENGTH - len(ext) - 1] + dot + ext) if dot and len(ext) < 10 else base[:NAME_MAX_LENGTH]
    return base


def _read(upload) -> bytes:
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read()
    if hasattr(upload, "seek"):
        upload.seek(0)
    return data


def check_file(upload) -> CheckedFile:
    """One upload: size, then the real type from its bytes, which must agree with its name."""
    name = clean_name(getattr(upload, "name", "") or "")
    declared_size = getattr(upload, "size", None)
    if declared_size is not None and declared_size > MAX_FILE_BYTES:
        raise ValidationError(
            f"“{name}” is too large: each file may be at most {filesizeformat(MAX_FILE_BYTES)}.", code="file_too_large"
        )
    data = _read(upload)
    if len(data) > MAX_FILE_BYTES:
        raise ValidationError(
            f"“{name}” is too large: each file may be at most {filesizeformat(MAX_FILE_BYTES)}.", code="file_too_large"
        )
    if not data:
        raise ValidationError(f"“{name}” is empty.", code="empty_file")
    kind = _detect(data)
    if kind is None:
        raise ValidationError(
            f"“{name}” is not an accepted type. Upload {ALLOWED_DESCRIPTION} files.", code="file_type"
        )
    extension = PurePath(name).suffix.lower()
    if extension not in kind.extensions:
        raise ValidationError(
            f"“{name}” is not what its name says: its content is {kind.content_type}. "
            f"Rename it to {kind.extensions[0]} if that is right.",
            code="file_type_mismatch",
        )
    return CheckedFile(name=name, content_type=kind.content_type, data=data, sha256=hashlib.sha256(data).hexdigest())


def check_files(uploads) -> list[CheckedFile]:
    """Every upload of one request, all or nothing. Raises ValidationError listing every problem."""
    uploads = [upload for upload in uploads or [] if upload is not None]
    if len(uploads) > MAX_FILES:
        raise ValidationError(f"Attach at most {MAX_FILES} files.", code="too_many_files")
    checked, errors = [], []
    for upload in uploads:
        try:
            checked.append(check_file(upload))
        except ValidationError as error:
            errors.extend(error.error_list)
    if errors:
        raise ValidationError(errors)
    if sum(len(item.data) for item in checked) > MAX_REQUEST_BYTES:
        raise ValidationError(
            f"The files are too large together: at most {filesizeformat(MAX_REQUEST_BYTES)} per request.",
            code="request_too_large",
        )
    return checked


# --- Encryption at rest --------------------------------------------------------------------


def _derived_key() -> bytes:
    digest = hashlib.sha256(b"lyceum.helpdesk.documents:" + settings.SECRET_KEY.encode()).digest()
    return base64.urlsafe_b64encode(digest)


def _fernet() -> MultiFernet:
    keys = list(getattr(settings, "HELPDESK_DOCUMENT_KEYS", None) or [])
    if not keys:
        if not settings.DEBUG:
            raise ImproperlyConfigured("HELPDESK_DOCUMENT_KEYS must be set (a list of Fernet keys) when DEBUG is off.")
        keys = [_derived_key()]
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured("HELPDESK_DOCUMENT_KEYS holds a key that is not a Fernet key.") from exc


def encrypt(data: bytes) -> bytes:
    return _fernet().encrypt(data)


def decrypt(token: bytes) -> bytes:
    """Plaintext of a stored file, with whichever configured key encrypted it."""
    try:
        return _fernet().decrypt(token)
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A help document cannot be decrypted with any HELPDESK_DOCUMENT_KEYS key (a key was removed too early?)."
        ) from exc


def read_plaintext(document) -> bytes:
    with document.file.open("rb") as stored:
        return decrypt(stored.read())
