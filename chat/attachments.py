"""Files carried by chat messages: the type comes from the CONTENT, never the name or the
browser's Content-Type; limits are checked before anything is decoded or stored.

Allowed: images (JPEG, PNG, WEBP, GIF — re-encoded from pixels only, so no EXIF/GPS/ICC/XMP
survives, with a WEBP thumbnail), PDF, Office Open XML and OpenDocument files (checked as ZIP
containers with the right entries), and UTF-8 plain text (.txt/.md/.csv). Everything else is
refused. Stored names are random; the shown name is cleaned and its extension matches the type.
"""

import io
import secrets
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from PIL import Image, ImageOps, UnidentifiedImageError

from chat.services.common import ChatError

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_FILES = 5
DEFAULT_MAX_PIXELS = 40_000_000
IMAGE_MAX_SIDE = 2560
THUMBNAIL_SIDE = 480
NAME_MAX = 120

IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
# Re-encoded format, content type and extension per decoded format (a GIF keeps its first frame).
IMAGE_OUTPUT = {
    "JPEG": ("JPEG", "image/jpeg", ".jpg"),
    "PNG": ("PNG", "image/png", ".png"),
    "WEBP": ("WEBP", "image/webp", ".webp"),
    "GIF": ("PNG", "image/png", ".png"),
}
OOXML = {
    "word/": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx"),
    "xl/": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
    "ppt/": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", ".pptx"),
}
ODF = {
    "application/vnd.oasis.opendocument.text": ".odt",
    "application/vnd.oasis.opendocument.spreadsheet": ".ods",
    "application/vnd.oasis.opendocument.presentation": ".odp",
}
TEXT_EXTENSIONS = (".txt", ".md", ".csv")
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


def max_pixels() -> int:
    return int(getattr(settings, "CHAT_ATTACHMENT_MAX_PIXELS", DEFAULT_MAX_PIXELS))


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


def _read(upload) -> bytes:
    size = getattr(upload, "size", None)
    if size is not None and int(size) > max_bytes():
        raise ChatError(f"A file can be at most {filesizeformat(max_bytes())}.", code="file_too_large")
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(max_bytes() + 1)
    if len(data) > max_bytes():
        raise ChatError(f"A file can be at most {filesizeformat(max_bytes())}.", code="file_too_large")
    if not data:
        raise ChatError("This file is empty.", code="empty_file")
    return data


def _is_image(data: bytes) -> bool:
    return (
        data.startswith(b"\xff\xd8\xff")
        or data.startswith(b"\x89PNG\r\n\x1a\n")
        or data[:6] in (b"GIF87a", b"GIF89a")
        or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")
    )


def _encode(image: Image.Image, fmt: str) -> bytes:
    # A brand-new image holds pixels only: nothing from the upload's info dict can leak.
    clean = Image.new(image.mode, image.size)
    clean.paste(image)
    buffer = io.BytesIO()
    if fmt == "JPEG":
        clean.convert("RGB").save(buffer, format="JPEG", quality=88, optimize=True)
    elif fmt == "WEBP":
        clean.save(buffer, format="WEBP", quality=85, method=4)
    else:
        clean.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _prepare_image(data: bytes, raw_name) -> PreparedFile:
    too_big = ChatError(
        f"The image has too many pixels: the limit is {max_pixels() / 1_000_000:g} megapixels.", code="too_many_pixels"
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
                if image.width < 1 or image.height < 1 or image.width * image.height > max_pixels():
                    raise too_big
                source_format = image.format or ""
                image.seek(0)  # an animated GIF keeps its first frame
                image.load()
                upright = ImageOps.exif_transpose(image)
                has_alpha = upright.mode in {"RGBA", "LA", "PA"} or (
                    upright.mode == "P" and "transparency" in upright.info
                )
                fmt, content_type, extension = IMAGE_OUTPUT[source_format]
                pixels = upright.convert("RGBA" if has_alpha and fmt != "JPEG" else "RGB")
    except ChatError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_big from None
    except (UnidentifiedImageError, SyntaxError, ValueError, TypeError, OSError, EOFError, KeyError):
        message = "This image could not be read. It may be damaged; try another file."
        raise ChatError(message, code="bad_image") from None
    full = pixels.copy()
    full.thumbnail((IMAGE_MAX_SIDE, IMAGE_MAX_SIDE), Image.Resampling.LANCZOS)
    thumb = pixels.copy()
    thumb.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    content = _encode(full, fmt)
    return PreparedFile(
        kind="image",
        name=clean_name(raw_name, extension),
        content_type=content_type,
        content=content,
        thumbnail=_encode(thumb, "WEBP"),
        width=full.width,
        height=full.height,
    )


def _zip_type(data: bytes) -> tuple[str, str] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                mimetype = archive.read("mimetype")[:100].decode("ascii", "replace").strip()
                if mimetype in ODF:
                    return mimetype, ODF[mimetype]
            if "[Content_Types].xml" in names:
                for prefix, found in OOXML.items():
                    if any(name.startswith(prefix) for name in names):
                        return found
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, NotImplementedError):
        return None
    return None


def _text_extension(raw_name) -> str:
    suffix = PurePath(str(raw_name or "")).suffix.lower()
    return suffix if suffix in TEXT_EXTENSIONS else ".txt"


def prepare(upload) -> PreparedFile:
    """Check and convert one uploaded file; ChatError (nothing stored) if it is refused."""
    raw_name = getattr(upload, "name", "") or "file"
    data = _read(upload)
    if _is_image(data):
        return _prepare_image(data, raw_name)
    if data.startswith(b"%PDF-"):
        name = clean_name(raw_name, ".pdf")
        return PreparedFile(kind="file", name=name, content_type="application/pdf", content=data)
    if data.startswith(b"PK\x03\x04"):
        found = _zip_type(data)
        if found:
            content_type, extension = found
            return PreparedFile(
                kind="file", name=clean_name(raw_name, extension), content_type=content_type, content=data
            )
        raise ChatError(NOT_ALLOWED, code="file_type")
    if b"\x00" not in data:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            extension = _text_extension(raw_name)
            content_type = {".csv": "text/csv", ".md": "text/markdown"}.get(extension, "text/plain")
            return PreparedFile(
                kind="file",
                name=clean_name(raw_name, extension),
                content_type=f"{content_type}; charset=utf-8",
                content=data,
            )
    raise ChatError(NOT_ALLOWED, code="file_type")


def prepare_all(uploads) -> list[PreparedFile]:
    uploads = list(uploads)
    if len(uploads) > max_files():
        raise ChatError(f"Attach at most {max_files()} files to one message.", code="too_many_files")
    return [prepare(upload) for upload in uploads]


PICTURE_SIDE = 256


def prepare_group_picture(upload) -> bytes:
    """A group picture: any accepted image (checked like attachments), cropped to a square and
    re-encoded as a 256 px WEBP (no metadata survives). Raises ChatError with a clear message."""
    data = _read(upload)
    if not _is_image(data):
        raise ChatError("A group picture must be a JPEG, PNG, WEBP or GIF image.", code="not_an_image")
    prepared = _prepare_image(data, getattr(upload, "name", "picture"))
    with Image.open(io.BytesIO(prepared.content)) as image:
        square = ImageOps.fit(image.convert("RGB"), (PICTURE_SIDE, PICTURE_SIDE), Image.Resampling.LANCZOS)
    return _encode(square, "WEBP")
