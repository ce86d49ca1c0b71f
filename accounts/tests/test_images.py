import io

import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from accounts import images
from accounts.tests import imagedata


def _open(content) -> Image.Image:
    content.seek(0)
    image = Image.open(io.BytesIO(content.read()))
    image.load()
    return image


@pytest.mark.parametrize(
    ("fmt", "kwargs"),
    [("JPEG", {}), ("PNG", {}), ("PNG", {"alpha": True}), ("WEBP", {}), ("GIF", {})],
)
def test_each_allowed_format_becomes_a_square_webp_of_the_configured_size(settings, fmt, kwargs):
    # Given a picture in an allowed format
    data = imagedata.picture(fmt, size=(640, 360), **kwargs)

    # When it is processed
    result = images.process_avatar(imagedata.upload(data, name=f"me.{fmt.lower()}"))

    # Then it is a WEBP of AVATAR_SIZE x AVATAR_SIZE
    image = _open(result)
    assert image.format == "WEBP"
    assert image.size == (settings.AVATAR_SIZE, settings.AVATAR_SIZE)
    assert result.name.endswith(".webp")


def test_exif_orientation_is_applied_and_every_metadata_is_stripped():
    # Given a sideways JPEG whose EXIF says how to turn it, and where it was taken
    data = imagedata.jpeg_with_metadata(orientation=6)
    assert "exif" in Image.open(io.BytesIO(data)).info

    # When it is processed
    image = _open(images.process_avatar(imagedata.upload(data)))

    # Then it was turned upright (the left, red half is now on top) ...
    red, _green, blue = image.convert("RGB").getpixel((image.width // 2, 10))
    assert red > 150 and blue < 100
    # ... and nothing of the original's metadata survives
    assert "exif" not in image.info
    assert "icc_profile" not in image.info
    assert "xmp" not in image.info
    assert len(image.getexif()) == 0


def test_an_animated_gif_keeps_its_first_frame_only():
    image = _open(images.process_avatar(imagedata.upload(imagedata.animated_gif(), name="a.gif")))
    assert image.format == "WEBP"
    assert getattr(image, "n_frames", 1) == 1


def test_text_disguised_as_a_jpeg_is_refused():
    upload = imagedata.upload(b"GIF89a? no: this is a shell script\n#!/bin/sh\nrm -rf /\n", name="cat.jpg")
    with pytest.raises(ValidationError) as caught:
        images.process_avatar(upload)
    assert caught.value.code == "not_an_image"
    assert "not one" in caught.value.messages[0]


def test_an_image_format_that_is_not_allowed_is_refused():
    # BMP is an image Pillow could read, but not one we accept
    upload = imagedata.upload(imagedata.picture("BMP"), name="photo.png", content_type="image/png")
    with pytest.raises(ValidationError) as caught:
        images.inspect_avatar(upload)
    assert caught.value.code == "not_an_image"


def test_an_empty_file_is_refused():
    with pytest.raises(ValidationError) as caught:
        images.inspect_avatar(imagedata.upload(b"", name="empty.png"))
    assert caught.value.code == "not_an_image"


def test_a_file_over_the_byte_limit_is_refused_before_it_is_parsed(settings):
    settings.AVATAR_MAX_BYTES = 1000
    with pytest.raises(ValidationError) as caught:
        images.inspect_avatar(imagedata.upload(b"\xff\xd8" + b"x" * 2000))
    assert caught.value.code == "file_too_large"
    assert "1000" in caught.value.messages[0] or "KB" in caught.value.messages[0]


def test_a_header_over_the_pixel_limit_is_refused_without_decoding(settings):
    # 7000 x 7000 = 49 MP, over the 16 MP budget; Pillow itself would accept it
    upload = imagedata.upload(imagedata.png_claiming(7000, 7000), name="big.png")
    with pytest.raises(ValidationError) as caught:
        images.process_avatar(upload)
    assert caught.value.code == "too_many_pixels"
    assert "megapixels" in caught.value.messages[0]


def test_a_decompression_bomb_header_is_a_clean_validation_error():
    # 30000 x 30000 = 900 MP: Pillow raises DecompressionBombError as soon as it reads the header
    upload = imagedata.upload(imagedata.png_claiming(30000, 30000), name="bomb.png")
    with pytest.raises(ValidationError) as caught:
        images.process_avatar(upload)
    assert caught.value.code == "too_many_pixels"


def test_a_truncated_image_is_refused_as_unreadable():
    data = imagedata.picture("PNG", size=(400, 400), color=(1, 2, 3))
    with pytest.raises(ValidationError) as caught:
        images.process_avatar(imagedata.upload(data[: len(data) // 2], name="cut.png"))
    assert caught.value.code in {"bad_image", "not_an_image"}
