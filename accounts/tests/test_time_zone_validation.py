"""Time zones are validated against the running machine's tz database, never enumerated in a
migration: another tzdata (macOS, an older Debian) sees no spurious migration."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ValidationError

from accounts.forms import ProfileForm
from accounts.models import validate_time_zone
from tests.servers import BASE_DIR

OTHER_TZDATA = """
import runpy, sys, zoneinfo
zones = zoneinfo.available_timezones()
# Another machine's database: a zone fewer, a zone more.
zoneinfo.available_timezones = lambda: (zones - {"Europe/Kyiv"}) | {"Mars/Olympus_Mons"}
sys.argv = ["manage.py", "makemigrations", "--check", "--dry-run"]
runpy.run_path("manage.py", run_name="__main__")
"""


# As `make lint` runs it: on the embedded default (no server to reach for the history check).
SERVICES = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "EMAIL_URL", "AWS_STORAGE_BUCKET_NAME"}


def test_makemigrations_check_passes_with_another_tzdata():
    env = {name: value for name, value in os.environ.items() if name not in SERVICES}

    result = subprocess.run(
        [sys.executable, "-c", OTHER_TZDATA], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout


def test_a_zone_of_the_tz_database_is_valid_and_anything_else_is_refused():
    validate_time_zone("Asia/Tokyo")

    with pytest.raises(ValidationError) as refusal:
        validate_time_zone("Mars/Base")

    assert refusal.value.code == "invalid_time_zone"


def test_the_profile_form_offers_the_zones_as_a_select_with_readable_names():
    field = ProfileForm().fields["time_zone"]

    assert ("America/New_York", "America/New York") in field.choices
    assert "<select" in str(ProfileForm()["time_zone"])
