"""Documents: the type comes from the bytes, limits per file and per request, all or nothing,
and the stored bytes are ciphertext (with key rotation)."""

import io
import zipfile
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from helpdesk import documents
from helpdesk.models import HelpDocument, HelpRequest
from helpdesk.tests.factories import PDF_BYTES, pdf, png_bytes, submit

pytestmark = pytest.mark.django_db


def upload(name, data, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def office(main_part: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(main_part, "<xml/>")
    return buffer.getvalue()


def stored_files(root) -> list[Path]:
    return [p for p in Path(root).rglob("*") if p.is_file()] if Path(root).exists() else []


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("notes.pdf", PDF_BYTES, "application/pdf"),
        ("board.png", png_bytes(), "image/png"),
        ("essay.docx", office("word/document.xml"), documents.DOCX.content_type),
        ("sheet.xlsx", office("xl/workbook.xml"), documents.XLSX.content_type),
        ("slides.pptx", office("ppt/presentation.xml"), documents.PPTX.content_type),
        ("question.txt", "Ünïcode is fine\n".encode(), "text/plain"),
    ],
)
def test_allowed_types_are_recognised_from_their_content(name, data, content_type):
    checked = documents.check_file(upload(name, data, "application/x-lies"))
    assert checked.content_type == content_type


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("notes.pdf", png_bytes()),  # a PNG called .pdf
        ("notes.pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64),  # an EXE
        ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64),
        ("page.html", b"<html><script>alert(1)</script></html>"),  # text, but not a text name
        ("archive.docx", office("something/else.xml")),  # a zip that is no Office file
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20),  # a broken image
        ("binary.txt", b"abc\x00\x01\x02def"),
        ("empty.pdf", b""),
    ],
)
def test_disguised_or_unknown_files_are_refused(name, data):
    with pytest.raises(ValidationError):
        documents.check_file(upload(name, data, "application/pdf"))


def test_a_disguised_file_refuses_the_whole_submission(ada, category, settings):
    with pytest.raises(ValidationError) as caught:
        submit(ada, category, files=[pdf(), upload("cat.pdf", png_bytes())])
    assert "files" in caught.value.message_dict
    assert "not what its name says" in " ".join(caught.value.message_dict["files"])
    assert not HelpRequest.objects.exists()
    assert not HelpDocument.objects.exists()
    assert stored_files(settings.HELPDESK_DOCUMENT_ROOT) == []


def test_size_limits_per_file_and_per_request_and_the_file_count(ada, category, monkeypatch):
    monkeypatch.setattr(documents, "MAX_FILE_BYTES", 1000)
    monkeypatch.setattr(documents, "MAX_REQUEST_BYTES", 1500)
    big = PDF_BYTES + b"x" * 1000
    medium = PDF_BYTES + b"x" * 800
    with pytest.raises(ValidationError, match="too large"):
        submit(ada, category, files=[pdf(data=big)])
    with pytest.raises(ValidationError, match="together"):
        submit(ada, category, files=[pdf("a.pdf", medium), pdf("b.pdf", medium)])
    with pytest.raises(ValidationError, match="at most 5 files"):
        submit(ada, category, files=[pdf(f"{i}.pdf") for i in range(6)])
    assert not HelpRequest.objects.exists()


def test_the_real_limits_are_10_mb_per_file_25_mb_per_request_5_files():
    assert (documents.MAX_FILE_BYTES, documents.MAX_REQUEST_BYTES, documents.MAX_FILES) == (
        10 * 1024 * 1024,
        25 * 1024 * 1024,
        5,
    )


def test_names_are_cleaned_of_paths_and_control_characters():
    assert documents.clean_name("../../etc/passwd.txt") == "passwd.txt"
    assert documents.clean_name("C:\\Users\\ada\\notes.pdf") == "notes.pdf"
    assert documents.clean_name("evil\r\nname.pdf") == "evilname.pdf"


def test_stored_bytes_are_ciphertext_and_decrypt_to_the_plaintext(ada, category, settings):
    help_request = submit(ada, category, files=[pdf()])
    document = help_request.documents.get()

    [stored] = stored_files(settings.HELPDESK_DOCUMENT_ROOT)
    raw = stored.read_bytes()
    assert PDF_BYTES not in raw and not raw.startswith(b"%PDF")
    assert documents.read_plaintext(document) == PDF_BYTES
    assert (document.size, document.content_type, document.original_name) == (
        len(PDF_BYTES),
        "application/pdf",
        "notes.pdf",
    )
    # Outside MEDIA_ROOT: /media/ can never serve it.
    assert not str(stored.resolve()).startswith(str(Path(settings.MEDIA_ROOT).resolve()))


def test_key_rotation_still_decrypts_files_written_with_the_old_key(ada, category, settings):
    old_key = settings.HELPDESK_DOCUMENT_KEYS[0]
    help_request = submit(ada, category, files=[pdf()])
    document = help_request.documents.get()

    settings.HELPDESK_DOCUMENT_KEYS = [Fernet.generate_key().decode(), old_key]
    assert documents.read_plaintext(document) == PDF_BYTES

    settings.HELPDESK_DOCUMENT_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(ImproperlyConfigured):
        documents.read_plaintext(document)


def test_missing_keys_are_a_configuration_error_outside_debug(settings):
    settings.HELPDESK_DOCUMENT_KEYS = []
    settings.DEBUG = False
    with pytest.raises(ImproperlyConfigured):
        documents.encrypt(b"x")
    settings.DEBUG = True
    assert documents.decrypt(documents.encrypt(b"x")) == b"x"
