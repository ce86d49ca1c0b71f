"""The avatar path end to end against a real S3 API (moto_server on loopback), no mocks in-process."""

import io
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.storage import storages
from django.urls import reverse
from PIL import Image
from storages.backends.s3 import S3Storage

from accounts.tests import imagedata

pytestmark = pytest.mark.django_db


def _profile_data(user, **extra) -> dict:
    data = {
        name: getattr(user, name)
        for name in ("first_name", "last_name", "email", "university", "course", "bio", "interests", "time_zone")
    }
    data.update(extra)
    return data


def test_an_avatar_uploaded_through_the_profile_page_lands_encrypted_and_clean_in_s3(
    client, user, s3_storage, django_capture_on_commit_callbacks, settings
):
    client.force_login(user)
    s3, bucket, endpoint = s3_storage["client"], s3_storage["bucket"], s3_storage["endpoint"]

    # When the student uploads a photo carrying EXIF (camera, GPS) through the page
    response = client.post(
        reverse("accounts:profile_edit"), _profile_data(user, avatar=imagedata.upload(imagedata.jpeg_with_metadata()))
    )
    assert response.status_code == 302

    # Then the object is in the bucket, encrypted at rest
    user.refresh_from_db()
    assert isinstance(storages["default"], S3Storage)
    head = s3.head_object(Bucket=bucket, Key=user.avatar.name)
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentType"] == "image/webp"

    # ... holding a square WEBP with no metadata left
    body = s3.get_object(Bucket=bucket, Key=user.avatar.name)["Body"].read()
    image = Image.open(io.BytesIO(body))
    assert image.format == "WEBP"
    assert image.size == (settings.AVATAR_SIZE, settings.AVATAR_SIZE)
    assert "exif" not in image.info and len(image.getexif()) == 0
    assert b"SpyCam" not in body

    # ... and the page links to it with a SigV4-signed URL on the S3 endpoint, expiring in 10 min
    url = user.avatar.url
    parts = urlsplit(url)
    assert url.startswith(f"{endpoint}/{bucket}/avatars/{user.public_id}/")
    query = parse_qs(parts.query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Credential"][0].endswith("/us-east-1/s3/aws4_request")
    assert query["X-Amz-Expires"] == ["600"] and query["X-Amz-Signature"]
    assert "Signature" not in query and "AWSAccessKeyId" not in query  # no SigV2 left
    profile = client.get(user.get_absolute_url()).content.decode()
    assert url.split("?")[0] in profile

    # ... which fetches the picture from the S3 server itself
    with urllib.request.urlopen(url, timeout=10) as fetched:
        assert fetched.status == 200 and fetched.read() == body

    # When the photo is replaced, the old object is deleted once the change is committed
    old_key = user.avatar.name
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("accounts:profile_edit"),
            _profile_data(user, avatar=imagedata.upload(imagedata.picture("PNG"), name="new.png")),
        )
    assert response.status_code == 302
    user.refresh_from_db()
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == [user.avatar.name]
    assert old_key not in keys


def test_a_refused_upload_leaves_the_bucket_untouched(client, user, s3_storage):
    client.force_login(user)
    s3, bucket = s3_storage["client"], s3_storage["bucket"]
    response = client.post(
        reverse("accounts:profile_edit"),
        _profile_data(user, avatar=imagedata.upload(imagedata.png_claiming(30000, 30000), name="bomb.png")),
    )
    assert response.status_code == 400
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
