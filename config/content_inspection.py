"""Content inspection: the one place where the bytes of an upload meet a parser.

Every upload path calls it: chat attachments and group pictures (chat/attachments.py),
help-request documents (helpdesk/documents.py) and avatars (accounts/images.py). A file's type
comes from its content, never from its name or the browser's Content-Type, and every check
costs a bounded amount of memory and CPU whatever the file claims about itself (the bounds and
the measurements behind them: docs/uploads.md).

- ZIP containers (Office Open XML, OpenDocument). The end record is read first, so zipfile
  never parses a central directory of more than `ZIP_MAX_MEMBERS` entries or
  `ZIP_MAX_DIRECTORY_BYTES` bytes. Every member must be stored or deflated (zipfile inflates a
  bzip2 or LZMA member in one call whatever the read size asked: 753 bytes of bzip2 become
  1,000 MiB), not encrypted, with declared sizes that fit the bounds and agree with the
  compressed size. The few members looked at are read through `ZipFile.open()` in bounded
  reads (at most `ZIP_READ_BYTES`), and the bytes actually read are counted.
- Images (JPEG, PNG, WEBP, GIF). Only the header is parsed before the pixel budget is checked,
  per image (`UPLOAD_IMAGE_MAX_PIXELS`) and per message or request
  (`UPLOAD_IMAGES_MAX_TOTAL_PIXELS`, see `check_total_pixels`); Pillow's decompression-bomb
  limit stays on as a backstop. A JPEG may have at most `JPEG_MAX_SCANS` scans: each
  progressive scan makes the decoder pass over the whole image again.
- PDF: the header at the start of the file, nothing else is parsed.
- Text: strict UTF-8, decoded incrementally `TEXT_STEP_BYTES` at a time, with no control
  characters other than tab, line feed, form feed and carriage return.

A refusal is `Refused(message, code=...)`, a config.refusals.Refusal whose status is 413 for
what is too large and 415 for a type or content not accepted (else 400); an app re-raises it as
its own Refusal naming its field (chat's ChatError on `files`) or its form's error, and
nothing has been stored when it is raised.
"""

import codecs
import io
import re
import struct
import warnings
import zipfile
import zlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from PIL import Image, ImageOps, UnidentifiedImageError

from config.refusals import Refusal

MB = 1024 * 1024

# --- Bounds ---------------------------------------------------------------------------------
DEFAULT_IMAGE_MAX_PIXELS = 16_000_000
DEFAULT_IMAGES_MAX_TOTAL_PIXELS = 64_000_000
JPEG_MAX_SCANS = 40
ZIP_MAX_MEMBERS = 5000
ZIP_MAX_DIRECTORY_BYTES = 1 * MB
ZIP_MAX_MEMBER_BYTES = 64 * MB  # declared, uncompressed
ZIP_MAX_TOTAL_BYTES = 256 * MB  # declared, uncompressed, all members
ZIP_MAX_RATIO = 200  # uncompressed : compressed, for members past ZIP_RATIO_FROM_BYTES
ZIP_RATIO_FROM_BYTES = 1 * MB
ZIP_READ_BYTES = 4096
TEXT_STEP_BYTES = 64 * 1024


class Refused(Refusal):
    """The upload is not accepted (config.refusals.Refusal). `code` is stable (API bodies,
    tests), `message` is for people."""

    status_by_code = {
        "file_too_large": 413,
        "too_many_pixels": 413,
        "too_many_pixels_in_total": 413,
        "file_type": 415,
        "unsafe_archive": 415,
        "unsafe_image": 415,
    }


@dataclass(frozen=True)
class FileType:
    name: str
    content_type: str
    extensions: tuple[str, ...]  # the first is the one a stored name gets

    @property
    def extension(self) -> str:
        return self.extensions[0]


JPEG = FileType("JPEG", "image/jpeg", (".jpg", ".jpeg"))
PNG = FileType("PNG", "image/png", (".png",))
WEBP = FileType("WEBP", "image/webp", (".webp",))
GIF = FileType("GIF", "image/gif", (".gif",))
PDF = FileType("PDF", "application/pdf", (".pdf",))
DOCX = FileType("DOCX", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", (".docx",))
XLSX = FileType("XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (".xlsx",))
PPTX = FileType("PPTX", "application/vnd.openxmlformats-officedocument.presentationml.presentation", (".pptx",))
ODT = FileType("ODT", "application/vnd.oasis.opendocument.text", (".odt",))
ODS = FileType("ODS", "application/vnd.oasis.opendocument.spreadsheet", (".ods",))
ODP = FileType("ODP", "application/vnd.oasis.opendocument.presentation", (".odp",))
TEXT = FileType("TEXT", "text/plain", (".txt", ".md", ".csv"))

IMAGES = frozenset({JPEG, PNG, WEBP, GIF})
OFFICE = frozenset({DOCX, XLSX, PPTX})
OPENDOCUMENT = frozenset({ODT, ODS, ODP})

# The part every OOXML package of that type has (ECMA-376 part 1), and the ODF mimetypes.
_OFFICE_MAIN_PARTS = (("word/document.xml", DOCX), ("xl/workbook.xml", XLSX), ("ppt/presentation.xml", PPTX))
_ODF_BY_MIMETYPE = {kind.content_type.encode(): kind for kind in OPENDOCUMENT}
_PDF_HEADER = re.compile(rb"%PDF-[12]\.\d")  # ISO 32000: the header line opens the file
_TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
# Pillow names a JPEG that carries further pictures (MPF: a phone's depth or gain map) "MPO";
# it is still a JPEG, and its first picture is the one shown.
_PILLOW_FORMATS = {JPEG: {"JPEG", "MPO"}, PNG: {"PNG"}, WEBP: {"WEBP"}, GIF: {"GIF"}}
_IMAGE_ERRORS = (UnidentifiedImageError, SyntaxError, ValueError, TypeError, OSError, EOFError, KeyError, struct.error)

NOT_ACCEPTED = "This kind of file is not accepted."
BAD_IMAGE = "This image could not be read. It may be damaged; try another file."
SAFE_ARCHIVES = "Files saved by Word, Excel, PowerPoint or LibreOffice are accepted."


@dataclass(frozen=True)
class Inspected:
    """What a file is, from its bytes; for an image, its size from the header."""

    type: FileType
    width: int = 0
    height: int = 0

    @property
    def is_image(self) -> bool:
        return self.type in IMAGES

    @property
    def pixels(self) -> int:
        return self.width * self.height


def image_max_pixels() -> int:
    return int(getattr(settings, "UPLOAD_IMAGE_MAX_PIXELS", DEFAULT_IMAGE_MAX_PIXELS))


def images_max_total_pixels() -> int:
    return int(getattr(settings, "UPLOAD_IMAGES_MAX_TOTAL_PIXELS", DEFAULT_IMAGES_MAX_TOTAL_PIXELS))


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1_000_000:g} megapixels"


# --- Reading the upload ---------------------------------------------------------------------


def read_upload(upload: IO[bytes], *, max_bytes: int, too_large: str | None = None) -> bytes:
    """The upload's bytes, never more than `max_bytes` + 1 read. Refused if larger or empty."""
    too_large = too_large or f"A file can be at most {filesizeformat(max_bytes)}."
    size = getattr(upload, "size", None)
    if size is not None and int(size) > max_bytes:
        raise Refused(too_large, code="file_too_large")
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(max_bytes + 1)
    if hasattr(upload, "seek"):
        upload.seek(0)
    if len(data) > max_bytes:
        raise Refused(too_large, code="file_too_large")
    if not data:
        raise Refused("This file is empty.", code="empty_file")
    return data


# --- What is it? ----------------------------------------------------------------------------


def _image_type(data: bytes) -> FileType | None:
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    return None


def inspect(data: bytes, *, accept: Collection[FileType]) -> Inspected:
    """The type of `data` if it is one of `accept` and within every bound, else Refused
    (code "file_type" when it is simply not an accepted kind of file)."""
    image_type = _image_type(data)
    if image_type is not None:
        if image_type not in accept:
            raise Refused(NOT_ACCEPTED, code="file_type")
        return inspect_image(data, image_type)
    if _PDF_HEADER.match(data, 0, 16):
        found = PDF
    elif data.startswith(b"PK\x03\x04"):
        found = _inspect_zip(data, accept=accept)
    elif TEXT in accept and is_text(data):
        found = TEXT
    else:
        found = None
    if found is None or found not in accept:
        raise Refused(NOT_ACCEPTED, code="file_type")
    return Inspected(found)


# --- Images ---------------------------------------------------------------------------------


class _BombsAreErrors(warnings.catch_warnings):
    """Pillow only warns between MAX_IMAGE_PIXELS and twice that; here it refuses."""

    def __enter__(self):
        super().__enter__()
        warnings.simplefilter("error", Image.DecompressionBombWarning)


def _too_many_pixels() -> Refused:
    return Refused(
        f"The image has too many pixels: the limit is {_megapixels(image_max_pixels())}.", code="too_many_pixels"
    )


def inspect_image(data: bytes, image_type: FileType) -> Inspected:
    """Header only: the format must be what the magic bytes say, the size within the budget."""
    try:
        with _BombsAreErrors(), Image.open(io.BytesIO(data), formats=(image_type.name,)) as image:
            width, height = image.size
            if image.format not in _PILLOW_FORMATS[image_type]:
                raise Refused(BAD_IMAGE, code="bad_image")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels() from None
    except UnidentifiedImageError:  # the magic bytes, then nothing of the format
        raise Refused(NOT_ACCEPTED, code="file_type") from None
    except _IMAGE_ERRORS:
        raise Refused(BAD_IMAGE, code="bad_image") from None
    if width < 1 or height < 1:
        raise Refused(BAD_IMAGE, code="bad_image")
    if width * height > image_max_pixels():
        raise _too_many_pixels()
    # Every scan starts with an SOS marker (FF DA), which entropy-coded data cannot contain
    # (an FF there is always followed by 00 or a restart marker): the count is an upper bound.
    if image_type == JPEG and data.count(b"\xff\xda") > JPEG_MAX_SCANS:
        raise Refused(
            f"This JPEG has more than {JPEG_MAX_SCANS} scans, which makes it too slow to read. "
            "Save it again from any photo editor and retry.",
            code="unsafe_image",
        )
    return Inspected(image_type, width, height)


def check_total_pixels(items: Iterable[Inspected]) -> None:
    """The images of one message or request together: refused over the total budget, before
    any of them is decoded."""
    total = sum(item.pixels for item in items if item.is_image)
    if total > images_max_total_pixels():
        raise Refused(
            f"These images have too many pixels together: at most {_megapixels(images_max_total_pixels())} "
            "can be sent at once. Send fewer or smaller images.",
            code="too_many_pixels_in_total",
        )


def decode_image(data: bytes, inspected: Inspected) -> Image.Image:
    """The first frame's pixels, turned upright by the EXIF orientation, as RGB or (if the image
    has transparency) RGBA. Call only with what `inspect` accepted: the budget is checked.
    The image is transposed and converted in place where it can be, so a big photo is held
    once or twice, never three times."""
    try:
        with _BombsAreErrors():
            image = Image.open(io.BytesIO(data), formats=(inspected.type.name,))
            if image.size != (inspected.width, inspected.height):
                raise Refused(BAD_IMAGE, code="bad_image")
            image.seek(0)  # an animated GIF, PNG or WEBP keeps its first frame
            image.load()
            ImageOps.exif_transpose(image, in_place=True)
            has_alpha = image.mode in {"RGBA", "LA", "PA"} or (image.mode == "P" and "transparency" in image.info)
            mode = "RGBA" if has_alpha else "RGB"
            return image if image.mode == mode else image.convert(mode)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels() from None
    except _IMAGE_ERRORS:
        raise Refused(BAD_IMAGE, code="bad_image") from None


def encode_image(image: Image.Image, image_type: FileType) -> bytes:
    """Pixels only, in `image_type` (JPEG, PNG or WEBP): the image is copied into a new one, so
    nothing of an upload's metadata (EXIF, GPS, ICC, XMP, text chunks) can be written out."""
    clean = Image.new(image.mode, image.size)
    clean.paste(image)
    buffer = io.BytesIO()
    if image_type == JPEG:
        clean.convert("RGB").save(buffer, format="JPEG", quality=88, optimize=True)
    elif image_type == WEBP:
        clean.save(buffer, format="WEBP", quality=85, method=4)
    elif image_type == PNG:
        clean.save(buffer, format="PNG")
    else:
        raise ValueError(f"images are written as JPEG, PNG or WEBP, not {image_type.name}")
    return buffer.getvalue()


# --- ZIP containers -------------------------------------------------------------------------


def _unsafe_archive(reason: str) -> Refused:
    return Refused(f"This archive cannot be accepted: {reason}. {SAFE_ARCHIVES}", code="unsafe_archive")


_END_RECORD = struct.Struct("<4s4H2IH")  # APPNOTE 4.3.16, 22 bytes
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"


def _check_end_record(data: bytes) -> bool:
    """Bounds the central directory before zipfile parses it (False: not a whole ZIP file).
    zipfile takes the last end record in the final 64 KiB and reads the directory by its byte
    size, whatever the declared entry count says: so both the count and the byte size are
    bounded here, and the record must end the file exactly (with its comment), which makes it
    the one zipfile will use."""
    tail_start = max(0, len(data) - (_END_RECORD.size + 0xFFFF))
    at = data.rfind(b"PK\x05\x06", tail_start)
    if at < 0 or len(data) - at < _END_RECORD.size:
        return False
    _, disk, directory_disk, on_disk, count, directory_size, _, comment = _END_RECORD.unpack_from(data, at)
    if at + _END_RECORD.size + comment != len(data):
        return False
    if data[max(0, at - 20) : at].startswith(_ZIP64_LOCATOR_SIGNATURE) or 0xFFFF in (count, on_disk):
        raise _unsafe_archive("it is a ZIP64 archive, which no document this size needs")
    if disk or directory_disk or on_disk != count:
        raise _unsafe_archive("it spans several disks")
    if count > ZIP_MAX_MEMBERS or directory_size > ZIP_MAX_DIRECTORY_BYTES:
        raise _unsafe_archive(f"it has more than {ZIP_MAX_MEMBERS:,} entries")
    return True


def _check_member(info: zipfile.ZipInfo) -> None:
    if info.flag_bits & 0x1:
        raise _unsafe_archive("it is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _unsafe_archive("it uses a compression method other than deflate")
    if info.file_size > ZIP_MAX_MEMBER_BYTES:
        raise _unsafe_archive(f"an entry expands to more than {filesizeformat(ZIP_MAX_MEMBER_BYTES)}")
    if info.file_size > ZIP_RATIO_FROM_BYTES and info.file_size > ZIP_MAX_RATIO * info.compress_size:
        raise _unsafe_archive(f"an entry is compressed more than {ZIP_MAX_RATIO} to 1")
    # What the compressed size says the entry can be: stored data is its own size; deflate
    # grows incompressible data by well under 1/8 (fixed-Huffman literals cost 9 bits).
    if info.compress_type == zipfile.ZIP_STORED:
        consistent = info.compress_size == info.file_size
    else:
        consistent = info.compress_size <= info.file_size + info.file_size // 8 + 64
    if not consistent:
        raise _unsafe_archive("its entries' sizes do not add up")


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int = ZIP_READ_BYTES) -> bytes:
    """At most `limit` bytes from the start of a member that `_check_member` passed: deflate
    is inflated in steps of a few KB, and the bytes actually produced are counted."""
    limit = min(limit, ZIP_READ_BYTES)
    with archive.open(info) as stream:
        data = stream.read(limit)
    if len(data) > limit:  # the stream gave more than asked: nothing it says can be trusted
        raise _unsafe_archive("its entries' sizes do not add up")
    return data


def _inspect_zip(data: bytes, *, accept: Collection[FileType]) -> FileType | None:
    """The Office or OpenDocument type of a ZIP file; None if it is neither (or is damaged)."""
    if not set(accept) & (OFFICE | OPENDOCUMENT) or not _check_end_record(data):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if len(members) > ZIP_MAX_MEMBERS:
                raise _unsafe_archive(f"it has more than {ZIP_MAX_MEMBERS:,} entries")
            for info in members:
                _check_member(info)
            if sum(info.file_size for info in members) > ZIP_MAX_TOTAL_BYTES:
                raise _unsafe_archive(f"its entries expand to more than {filesizeformat(ZIP_MAX_TOTAL_BYTES)}")
            by_name = {info.filename: info for info in members}
            if "mimetype" in by_name:
                # ODF 1.2 part 3, 3.3: the first member, stored, holding the media type itself.
                found = _ODF_BY_MIMETYPE.get(read_member(archive, by_name["mimetype"], 128).strip())
                if found is not None:
                    return found
            if "[Content_Types].xml" in by_name and b"<Types" in read_member(archive, by_name["[Content_Types].xml"]):
                for part, found in _OFFICE_MAIN_PARTS:
                    if part in by_name:
                        return found
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, KeyError, NotImplementedError, RuntimeError):
        return None  # damaged: not a document anyone could open
    return None


# --- Text -----------------------------------------------------------------------------------


def is_text(data: bytes) -> bool:
    """Strict UTF-8 with no control characters but tab, LF, FF and CR, checked in steps of
    TEXT_STEP_BYTES so that no more than that is decoded at once."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    view = memoryview(data)
    try:
        for start in range(0, len(data), TEXT_STEP_BYTES):
            chunk = decoder.decode(view[start : start + TEXT_STEP_BYTES], final=False)
            if _TEXT_CONTROLS.search(chunk):
                return False
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True
