"""Rotating the document encryption key loses no document (manage.py rotate_document_keys)."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from helpdesk import documents
from helpdesk.models import HelpDocument
from helpdesk.tests.conftest import TEST_KEY
from helpdesk.tests.factories import PDF_BYTES, pdf, submit

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = StringIO()
    call_command("rotate_document_keys", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_rotation_re_encrypts_old_documents_with_the_new_key_and_keeps_them_readable(settings, ada, category):
    # Given a document stored under the old key
    submit(ada, category, files=[pdf()])
    document = HelpDocument.objects.get()
    old_name = document.file.name
    storage = document.file.storage

    # When a new key is put first and the command runs
    new_key = Fernet.generate_key().decode()
    settings.HELPDESK_DOCUMENT_KEYS = [new_key, TEST_KEY]
    assert "would re-encrypt 1" in _run("--dry-run")
    assert HelpDocument.objects.get().file.name == old_name
    assert "re-encrypted 1, already under the first key 0, unreadable 0" in _run()

    # Then the document opens with the new key alone, and the old file is gone
    settings.HELPDESK_DOCUMENT_KEYS = [new_key]
    document.refresh_from_db()
    assert document.file.name != old_name
    assert not storage.exists(old_name)
    assert documents.read_plaintext(document) == PDF_BYTES
    # And a second run has nothing left to do
    assert "re-encrypted 0, already under the first key 1" in _run()


def test_a_document_no_configured_key_opens_is_reported_and_left_alone(settings, ada, category):
    submit(ada, category, files=[pdf()])
    name = HelpDocument.objects.get().file.name
    settings.HELPDESK_DOCUMENT_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(CommandError, match="1 document"):
        _run()
    assert HelpDocument.objects.get().file.name == name
