"""Help-request documents: what we accept (decided from the bytes by config.content_inspection,
the one module that parses upload bytes, never from the name or the browser's Content-Type) and
how they are kept (Fernet-encrypted by the application).

Keys: settings.HELPDESK_DOCUMENT_KEYS, a list of Fernet keys. The first encrypts, all of them
decrypt, so a key is rotated by putting a new one first and keeping the old ones until every
file has been re-encrypted or deleted. With no keys set, DEBUG derives one from SECRET_KEY
(development only); anywhere else that is a configuration error.
"""

import base64
import hashlib
import unicodedata
from dataclasses import dataclass
from pathlib import PurePath

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.template.defaultfilters import filesizeformat

from config import content_inspection as inspection

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_REQUEST_BYTES = 25 * 1024 * 1024
MAX_FILES = 5
NAME_MAX_LENGTH = 200

ACCEPT_ATTRIBUTE = ".pdf,.png,.jpg,.jpeg,.webp,.docx,.xlsx,.pptx,.txt,.md,.csv"
ALLOWED_DESCRIPTION = "PDF, PNG, JPEG, WEBP, Word (.docx), Excel (.xlsx), PowerPoint (.pptx) or plain text"

PDF, PNG, JPEG, WEBP = inspection.PDF, inspection.PNG, inspection.JPEG, inspection.WEBP
DOCX, XLSX, PPTX, TEXT = inspection.DOCX, inspection.XLSX, inspection.PPTX, inspection.TEXT
ACCEPTED = frozenset({PDF, PNG, JPEG, WEBP, DOCX, XLSX, PPTX, TEXT})


@dataclass(frozen=True)
class CheckedFile:
    name: str
    content_type: str
    data: bytes
    sha256: str
    inspected: inspection.Inspected


def clean_name(name: str) -> str:
    """The last path component, without control characters, at most NAME_MAX_LENGTH long."""
    base = PurePath((name or "").replace("\\", "/")).name
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip().strip(".") or "document"
    if len(base) > NAME_MAX_LENGTH:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: NAME_MAX_LENGTH - len(ext) - 1] + dot + ext) if dot and len(ext) < 10 else base[:NAME_MAX_LENGTH]
    return base


def check_file(upload) -> CheckedFile:
    """One upload: size, then the real type from its bytes, which must agree with its name."""
    name = clean_name(getattr(upload, "name", "") or "")
    try:
        data = inspection.read_upload(
            upload,
            max_bytes=MAX_FILE_BYTES,
            too_large=f"“{name}” is too large: each file may be at most {filesizeformat(MAX_FILE_BYTES)}.",
        )
        inspected = inspection.inspect(data, accept=ACCEPTED)
    except inspection.Refused as refusal:
        if refusal.code == "file_type":
            message = f"“{name}” is not an accepted type. Upload {ALLOWED_DESCRIPTION} files."
        elif refusal.code == "empty_file":
            message = f"“{name}” is empty."
        else:
            message = refusal.message if refusal.code == "file_too_large" else f"“{name}”: {refusal.message}"
        raise ValidationError(message, code=refusal.code) from None
    kind = inspected.type
    extension = PurePath(name).suffix.lower()
    if extension not in kind.extensions:
        raise ValidationError(
            f"“{name}” is not what its name says: its content is {kind.content_type}. "
            f"Rename it to {kind.extension} if that is right.",
            code="file_type_mismatch",
        )
    return CheckedFile(
        name=name,
        content_type=kind.content_type,
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        inspected=inspected,
    )


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
    try:
        inspection.check_total_pixels(item.inspected for item in checked)
    except inspection.Refused as refusal:
        raise ValidationError(refusal.message, code=refusal.code) from None
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
