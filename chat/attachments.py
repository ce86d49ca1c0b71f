"""Files carried by chat messages: what a member may share and how it is stored. The type and
every bound come from config.content_inspection (the one module that parses upload bytes);
limits on size and count are checked before anything is decoded or stored.

Allowed: images (JPEG, PNG, WEBP, GIF — re-encoded from pixels only, so no EXIF/GPS/ICC/XMP
survives, with a WEBP thumbnail), PDF, Office Open XML and OpenDocument files, and UTF-8 plain
text (.txt/.md/.csv). Everything else is refused. Stored names are random; the shown name is
cleaned and its extension matches the type.
"""

import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from PIL import Image, ImageOps

from chat.services.common import ChatError
from config import content_inspection as inspection

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_FILES = 5
IMAGE_MAX_SIDE = 2560
THUMBNAIL_SIDE = 480
NAME_MAX = 120

ACCEPTED = inspection.IMAGES | {inspection.PDF, inspection.TEXT} | inspection.OFFICE | inspection.OPENDOCUMENT
# What a decoded image is written back as (a GIF keeps its first frame, as a PNG).
IMAGE_OUTPUT = {
    inspection.JPEG: inspection.JPEG,
    inspection.PNG: inspection.PNG,
    inspection.WEBP: inspection.WEBP,
    inspection.GIF: inspection.PNG,
}
TEXT_CONTENT_TYPES = {".csv": "text/csv", ".md": "text/markdown"}
ACCEPT_ATTRIBUTE = (
    "image/jpeg,image/png,image/webp,image/gif,application/pdf,.docx,.xlsx,.pptx,.odt,.ods,.odp,.txt,.md,.csv"
)
NOT_ALLOWED = (
    "This kind of file cannot be shared: send an image (JPEG, PNG, WEBP, GIF), a PDF, an Office or "
    "OpenDocument file, or plain text."
)


def max_bytes() -> int:
    return int(getattr(settings, "CHAT_ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


def max_files() -> int:
    return int(getattr(settings, "CHAT_ATTACHMENT_MAX_FILES", DEFAULT_MAX_FILES))


@dataclass(frozen=True)
class PreparedFile:
    kind: str  # "image" or "file"
    name: str
    content_type: str
    content: bytes
    thumbnail: bytes | None = None
    width: int | None = None
    height: int | None = None

    @property
    def extension(self) -> str:
        return PurePath(self.name).suffix.lower()

    def storage_name(self, suffix: str = "") -> str:
        return f"{secrets.token_hex(16)}{suffix}{self.extension}"


def clean_name(raw: object, extension: str) -> str:
    """The name shown and offered on download: no path, no control characters, bounded, and
    ending in the extension of the detected type."""
    name = PurePath(str(raw or "").replace("\\", "/")).name
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C")
    name = name.strip().strip(".") or "file"
    stem = PurePath(name).stem if PurePath(name).suffix else name
    stem = stem[: NAME_MAX - len(extension)].strip() or "file"
    return f"{stem}{extension}"


def _as_chat_error(refusal: inspection.Refused, *, field: str) -> ChatError:
    message = NOT_ALLOWED if refusal.code == "file_type" else refusal.message
    return ChatError(message, code=refusal.code, field=field, status=refusal.status)


def _read_and_inspect(upload, *, accept, field: str) -> tuple[bytes, inspection.Inspected]:
    try:
        data = inspection.read_upload(upload, max_bytes=max_bytes())
        return data, inspection.inspect(data, accept=accept)
    except inspection.Refused as refusal:
        raise _as_chat_error(refusal, field=field) from None


def _prepare_image(data: bytes, inspected: inspection.Inspected, raw_name) -> PreparedFile:
    output = IMAGE_OUTPUT[inspected.type]
    try:
        full = inspection.decode_image(data, inspected)
    except inspection.Refused as refusal:
        raise _as_chat_error(refusal, field="files") from None
    full.thumbnail((IMAGE_MAX_SIDE, IMAGE_MAX_SIDE), Image.Resampling.LANCZOS)
    thumb = full.copy()
    thumb.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    return PreparedFile(
        kind="image",
        name=clean_name(raw_name, output.extension),
        content_type=output.content_type,
        content=inspection.encode_image(full, output),
        thumbnail=inspection.encode_image(thumb, inspection.WEBP),
        width=full.width,
        height=full.height,
    )


def _text_extension(raw_name) -> str:
    suffix = PurePath(str(raw_name or "")).suffix.lower()
    return suffix if suffix in inspection.TEXT.extensions else ".txt"


def _prepare(upload, data: bytes, inspected: inspection.Inspected) -> PreparedFile:
    raw_name = getattr(upload, "name", "") or "file"
    if inspected.is_image:
        return _prepare_image(data, inspected, raw_name)
    if inspected.type == inspection.TEXT:
        extension = _text_extension(raw_name)
        content_type = TEXT_CONTENT_TYPES.get(extension, "text/plain")
        return PreparedFile(
            kind="file",
            name=clean_name(raw_name, extension),
            content_type=f"{content_type}; charset=utf-8",
            content=data,
        )
    return PreparedFile(
        kind="file",
        name=clean_name(raw_name, inspected.type.extension),
        content_type=inspected.type.content_type,
        content=data,
    )


def prepare_all(uploads) -> list[PreparedFile]:
    """Check and convert the files of one message, all or nothing: every file is read and
    inspected (headers only) and the images' pixels counted together before any is decoded.
    ChatError (nothing stored) if one is refused."""
    uploads = list(uploads)
    if len(uploads) > max_files():
        raise ChatError(f"Attach at most {max_files()} files to one message.", code="too_many_files", field="files")
    checked = [(upload, *_read_and_inspect(upload, accept=ACCEPTED, field="files")) for upload in uploads]
    try:
        inspection.check_total_pixels(inspected for _, _, inspected in checked)
    except inspection.Refused as refusal:
        raise _as_chat_error(refusal, field="files") from None
    return [_prepare(upload, data, inspected) for upload, data, inspected in checked]


def prepare(upload) -> PreparedFile:
    """One file, as prepare_all checks it."""
    return prepare_all([upload])[0]


PICTURE_SIDE = 256


def prepare_group_picture(upload) -> bytes:
    """A group picture: any accepted image (checked like attachments), cropped to a square and
    re-encoded as a 256 px WEBP (no metadata survives). Raises ChatError with a clear message."""
    try:
        data, inspected = _read_and_inspect(upload, accept=inspection.IMAGES, field="picture")
    except ChatError as error:
        if error.code != "file_type":
            raise
        message = "A group picture must be a JPEG, PNG, WEBP or GIF image."
        raise ChatError(message, code="not_an_image", field="picture") from None
    try:
        pixels = inspection.decode_image(data, inspected)
    except inspection.Refused as refusal:
        raise _as_chat_error(refusal, field="picture") from None
    square = ImageOps.fit(pixels, (PICTURE_SIDE, PICTURE_SIDE), Image.Resampling.LANCZOS)
    return inspection.encode_image(square.convert("RGB"), inspection.WEBP)
