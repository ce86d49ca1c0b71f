"""Download my data: a zip of JSON documents and files, built by a task, offered by notification
and e-mail through a link that works for its owner only and for a limited time, bounded in size,
with safe entry names."""

import io
import json
import os
import re
import zipfile
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import data_export
from accounts.models import DataExport
from accounts.personal_data import safe_segment
from accounts.tasks import expire_data_exports_task
from accounts.tests.factories import UserFactory
from notifications.models import Notification, NotificationKind
from tests.privacy.conftest import DOCUMENT_BYTES, FILE_BYTES

pytestmark = pytest.mark.django_db

SAFE_ENTRY = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user, backend="accounts.backends.EmailBackend")
    return client


def ask(client: Client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(reverse("accounts:data_export_request"))


def download(client: Client, export: DataExport):
    return client.get(reverse("accounts:data_export_download", kwargs={"export_id": export.public_id}))


def archive_of(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_the_zip_opens_and_holds_what_the_page_lists(life, django_capture_on_commit_callbacks):
    client = signed_in(life.person)

    answer = ask(client, django_capture_on_commit_callbacks)

    assert answer.status_code == 302 and answer["Location"] == reverse("accounts:privacy")
    export = DataExport.objects.get(user=life.person)
    assert export.status == "ready" and export.size > 0
    page = client.get(reverse("accounts:privacy")).content.decode()
    assert reverse("accounts:data_export_download", kwargs={"export_id": export.public_id}) in page
    response = download(client, export)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"] and "no-store" in response["Cache-Control"]
    archive = archive_of(response)
    assert archive.testzip() is None
    names = archive.namelist()
    for expected in (
        "README.txt",
        "profile.json",
        "notifications.json",
        "social/friends.json",
        "social/friend_requests.json",
        "social/blocks.json",
        "chat/conversations.json",
        "helpdesk/requests.json",
        "helpdesk/requests_as_expert.json",
        "experts/expert_profile.json",
        "manifest.json",
    ):
        assert expected in names, expected
    assert all(SAFE_ENTRY.match(name) and ".." not in name for name in names), names
    assert sorted(json.loads(archive.read("manifest.json"))["files"]) == sorted(set(names) - {"manifest.json"})

    profile = json.loads(archive.read("profile.json"))
    assert profile["email"] == life.person.email and profile["bio"].startswith("Bio of Zelda")
    assert any(name.startswith("profile/") and name.endswith(".webp") for name in names)
    friends = json.loads(archive.read("social/friends.json"))
    assert [f["friend"]["name"] for f in friends] == ["Fred Friend"]
    direct = next(n for n in names if n.startswith(f"chat/{life.direct.pk}-") and n.endswith("messages.json"))
    bodies = [m.get("body") for m in json.loads(archive.read(direct))["messages"]]
    assert "Here are my notes, Fred" in bodies and "Thanks Zelda, see you Monday" in bodies  # sent and received
    (sent_file,) = [n for n in names if "/files/" in n]
    assert archive.read(sent_file) == FILE_BYTES and sent_file.endswith("notes-of-zelda.pdf")
    requests = json.loads(archive.read("helpdesk/requests.json"))
    completed = next(r for r in requests if r["title"] == "Eigenvalues")
    assert completed["your_rating"] == {
        "stars": 4,
        "feedback": "Zelda says: very clear",
        "at": completed["your_rating"]["at"],
    }
    assert [archive.read(name) for name in completed["documents"]] == [DOCUMENT_BYTES]
    assert any(event["action"] == "completed" for event in completed["timeline"])
    notifications = json.loads(archive.read("notifications.json"))
    assert notifications and all("title" in n for n in notifications)


def test_the_owner_is_told_in_the_app_and_by_email_with_a_link_only_they_can_follow(
    life, django_capture_on_commit_callbacks
):
    ask(signed_in(life.person), django_capture_on_commit_callbacks)
    export = DataExport.objects.get(user=life.person)

    told = Notification.objects.get(recipient=life.person, kind=NotificationKind.DATA_EXPORT_READY)
    assert told.url == reverse("accounts:privacy")
    (message,) = [m for m in mail.outbox if life.person.email in m.to and "ready" in m.subject]
    link = django_settings.SITE_URL + reverse("accounts:data_export_download", kwargs={"export_id": export.public_id})
    assert link in message.body
    # Someone else, signed in or not, finds nothing there: the same 404 as an unknown export.
    other = signed_in(life.friend)
    assert download(other, export).status_code == 404
    assert (
        other.get(
            reverse("accounts:data_export_download", kwargs={"export_id": "00000000-0000-4000-8000-000000000000"})
        ).status_code
        == 404
    )
    anonymous = download(Client(), export)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("accounts:login"))
    api = APIClient()
    api.force_authenticate(life.friend)
    assert api.get(reverse("api:me_data_export_download", kwargs={"export_id": export.public_id})).status_code == 404


def test_the_link_stops_working_when_it_expires_and_the_file_is_deleted(life, django_capture_on_commit_callbacks):
    client = signed_in(life.person)
    ask(client, django_capture_on_commit_callbacks)
    export = DataExport.objects.get(user=life.person)
    stored = export.file.path
    DataExport.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert download(client, export).status_code == 404
    assert expire_data_exports_task() == 1
    export.refresh_from_db()
    assert export.status == "expired" and not export.file
    assert not os.path.exists(stored)


def test_an_export_past_its_size_bound_fails_cleanly_and_says_so(life, settings, django_capture_on_commit_callbacks):
    settings.ACCOUNT_EXPORT_MAX_BYTES = 2000
    client = signed_in(life.person)

    ask(client, django_capture_on_commit_callbacks)

    export = DataExport.objects.get(user=life.person)
    assert export.status == "failed" and not export.file and "larger" in export.error
    assert Notification.objects.filter(recipient=life.person, kind=NotificationKind.DATA_EXPORT_FAILED).exists()
    assert "larger" in client.get(reverse("accounts:privacy")).content.decode()


def test_one_export_at_a_time_and_not_in_a_burst(life, django_capture_on_commit_callbacks, monkeypatch):
    client = signed_in(life.person)
    ask(client, django_capture_on_commit_callbacks)

    again = ask(client, django_capture_on_commit_callbacks)

    assert again.status_code == 302 and DataExport.objects.filter(user=life.person).count() == 1
    assert data_export.EXPORT_THROTTLED in client.get(reverse("accounts:privacy")).content.decode()


def test_the_api_asks_lists_and_downloads(life, django_capture_on_commit_callbacks):
    api = APIClient()
    api.force_authenticate(life.person)

    with django_capture_on_commit_callbacks(execute=True):
        asked = api.post(reverse("api:me_data_exports"))
    listed = api.get(reverse("api:me_data_exports"))

    # The answer comes before the commit that queues the build (here: the end of the capture).
    assert asked.status_code == 202 and asked.json()["status"] in {"pending", "ready"}
    (latest,) = listed.json()
    assert listed.status_code == 200 and latest["id"] == asked.json()["id"] and latest["status"] == "ready"
    url = latest["download_url"]
    response = api.get(url)
    assert response.status_code == 200 and "profile.json" in archive_of(response).namelist()
    refused = api.post(reverse("api:me_data_exports"))
    assert refused.status_code == 400 and refused.json()["code"] == "throttled"


def test_an_export_of_someone_with_nothing_yet_still_opens(django_capture_on_commit_callbacks, settings):
    newcomer = UserFactory()
    client = signed_in(newcomer)

    ask(client, django_capture_on_commit_callbacks)

    export = DataExport.objects.get(user=newcomer)
    names = archive_of(download(client, export)).namelist()
    assert "profile.json" in names and "chat/conversations.json" in names


def test_the_export_list_shows_its_times_in_the_readers_zone(django_capture_on_commit_callbacks):
    reader = UserFactory(time_zone="Asia/Tokyo")
    client = signed_in(reader)
    ask(client, django_capture_on_commit_callbacks)
    export = DataExport.objects.get(user=reader)

    page = client.get(reverse("accounts:privacy")).content.decode()

    asked = timezone.localtime(export.requested_at, timezone=ZoneInfo("Asia/Tokyo"))
    assert f"Asked for {asked:%-d %b %Y, %H:%M} JST" in page


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("../../etc/passwd", "etc-passwd"),
        ("..", "file"),
        (".hidden", "hidden"),
        ("C:\\Windows\\x.exe", "C-Windows-x.exe"),
        ("résumé final.pdf", "resume-final.pdf"),
        ("/absolute", "absolute"),
        ("x" * 200 + ".pdf", "x" * 76 + ".pdf"),
        ("\u202eevil", "evil"),
    ],
)
def test_entry_names_are_made_safe(given, safe):
    assert safe_segment(given) == safe
