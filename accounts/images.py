"""Avatar processing: the uploaded bytes are untrusted, so the type and the pixel budget come
from config.content_inspection (the one module that parses upload bytes) before anything is
decoded, and what gets stored is a fresh WEBP re-encoded from pixels only (no EXIF, GPS, ICC
or XMP survives).
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.template.defaultfilters import filesizeformat
from PIL import Image, ImageOps

from config import content_inspection as inspection

ACCEPT_ATTRIBUTE = "image/jpeg,image/png,image/webp,image/gif"

NOT_AN_IMAGE = "Upload a JPEG, PNG, WEBP or GIF image. This file is not one (whatever its name says)."


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int


def _inspected(upload) -> tuple[bytes, inspection.Inspected]:
    too_large = f"The image is too large: the limit is {filesizeformat(settings.AVATAR_MAX_BYTES)}."
    try:
        data = inspection.read_upload(upload, max_bytes=settings.AVATAR_MAX_BYTES, too_large=too_large)
        return data, inspection.inspect(data, accept=inspection.IMAGES)
    except inspection.Refused as refusal:
        if refusal.code in {"file_type", "empty_file"}:
            raise ValidationError(NOT_AN_IMAGE, code="not_an_image") from None
        raise ValidationError(refusal.message, code=refusal.code) from None


def inspect_avatar(upload) -> ImageInfo:
    """Checks size, real type and pixel count from the header only. Raises ValidationError."""
    _, inspected = _inspected(upload)
    return ImageInfo(format=inspected.type.name, width=inspected.width, height=inspected.height)


def process_avatar(upload) -> ContentFile:
    """A square WEBP of settings.AVATAR_SIZE pixels, EXIF orientation applied, no metadata."""
    data, inspected = _inspected(upload)
    size = settings.AVATAR_SIZE
    try:
        pixels = inspection.decode_image(data, inspected)
    except inspection.Refused as refusal:
        raise ValidationError(refusal.message, code=refusal.code) from None
    fitted = ImageOps.fit(pixels, (size, size), Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    return ContentFile(inspection.encode_image(fitted, inspection.WEBP), name="avatar.webp")
