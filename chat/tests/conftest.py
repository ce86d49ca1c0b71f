"""Fixtures of the chat tests."""

import pytest

from chat.tests.factories import UserFactory


@pytest.fixture
def cleo(db):
    return UserFactory(first_name="Cleo", last_name="Patra", email="cleo@uni.example")


@pytest.fixture(autouse=True)
def _private_attachment_root(settings, tmp_path):
    """Chat files of a test go to its own tmp dir (never the project's private-media)."""
    settings.CHAT_ATTACHMENT_ROOT = str(tmp_path / "chat-files")
    settings.MEDIA_ROOT = str(tmp_path / "media")
