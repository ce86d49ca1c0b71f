"""Avatar processing: the uploaded bytes are untrusted, so the type comes from the content,
limits are checked from the header before anything is decoded, and what gets stored is a
fresh WEBP re-encoded from pixels only (no EXIF, GPS, ICC or XMP survives).
"""

import io
import warnings
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.template.defaultfilters import filesizeformat
from PIL import Image, ImageOps, UnidentifiedImageError

# Only these decoders ever see an upload: fewer parsers, less attack surface.
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
ACCEPT_ATTRIBUTE = "image/jpeg,image/png,image/webp,image/gif"

NOT_AN_IMAGE = "Upload a JPEG, PNG, WEBP or GIF image. This file is not one (whatever its name says)."
UNREADABLE = "This image could not be read. It may be damaged or truncated; try another file."


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int


def _too_large_message() -> str:
    return f"The image is too large: the limit is {filesizeformat(settings.AVATAR_MAX_BYTES)}."


def _too_many_pixels_message() -> str:
    megapixels = settings.AVATAR_MAX_PIXELS / 1_000_000
    return f"The image has too many pixels: the limit is {megapixels:g} megapixels."


def _rewind(upload: IO[bytes]) -> None:
    if hasattr(upload, "seek"):
        upload.seek(0)


def _size_of(upload) -> int:
    size = getattr(upload, "size", None)
    if size is not None:
        return int(size)
    _rewind(upload)
    return len(upload.read())


def inspect_avatar(upload) -> ImageInfo:
    """Checks size, real type and pixel count from the header only. Raises ValidationError."""
    if _size_of(upload) > settings.AVATAR_MAX_BYTES:
        raise ValidationError(_too_large_message(), code="file_too_large")
    _rewind(upload)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(upload, formats=ALLOWED_FORMATS) as image:
                info = ImageInfo(format=image.format or "", width=image.width, height=image.height)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValidationError(_too_many_pixels_message(), code="too_many_pixels") from exc
    except (UnidentifiedImageError, SyntaxError, ValueError, TypeError) as exc:
        raise ValidationError(NOT_AN_IMAGE, code="not_an_image") from exc
    except OSError as exc:
        raise ValidationError(UNREADABLE, code="unreadable_image") from exc
    finally:
        _rewind(upload)
    if info.format not in ALLOWED_FORMATS:
        raise ValidationError(NOT_AN_IMAGE, code="not_an_image")
    if info.width < 1 or info.height < 1 or info.width * info.height > settings.AVATAR_MAX_PIXELS:
        raise ValidationError(_too_many_pixels_message(), code="too_many_pixels")
    return info


def process_avatar(upload) -> ContentFile:
    """A square WEBP of settings.AVATAR_SIZE pixels, EXIF orientation applied, no metadata."""
    inspect_avatar(upload)
    size = settings.AVATAR_SIZE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(upload, formats=ALLOWED_FORMATS) as image:
                image.seek(0)  # an animated GIF keeps its first frame
                image.load()
                upright = ImageOps.exif_transpose(image)
                has_alpha = upright.mode in {"RGBA", "LA", "PA"} or (
                    upright.mode == "P" and "transparency" in upright.info
                )
                pixels = upright.convert("RGBA" if has_alpha else "RGB")
                fitted = ImageOps.fit(pixels, (size, size), Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValidationError(_too_many_pixels_message(), code="too_many_pixels") from exc
    except (UnidentifiedImageError, SyntaxError, ValueError, TypeError, OSError, EOFError) as exc:
        raise ValidationError(UNREADABLE, code="unreadable_image") from exc
    finally:
        _rewind(upload)

    # A brand-new image holds pixels only: nothing from the upload's info dict can leak.
    clean = Image.new(fitted.mode, fitted.size)
    clean.paste(fitted)
    buffer = io.BytesIO()
    clean.save(buffer, format="WEBP", quality=85, method=4)
    return ContentFile(buffer.getvalue(), name="avatar.webp")
