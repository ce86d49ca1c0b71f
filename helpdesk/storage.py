"""Where help-request documents live: private storage (config.private_storage), locally under
settings.HELPDESK_DOCUMENT_ROOT (default `<BASE_DIR>/private-media/helpdesk`, outside
MEDIA_ROOT) or in S3 when AWS_STORAGE_BUCKET_NAME is set. No URL: every download goes through
the permission-checked view. On both, the bytes are Fernet ciphertext already
(helpdesk.documents)."""

import secrets

from django.core.files.storage import Storage

from config.private_storage import PrivateStorage

_document_storage = PrivateStorage(
    root_setting="HELPDESK_DOCUMENT_ROOT",
    default_subdir="helpdesk",
    refusal="Help documents are served only by the permission-checked view.",
)


def document_storage() -> Storage:
    return _document_storage


def document_upload_to(instance, filename: str) -> str:
    # A random name: the original name is only in the database and never reaches a path.
    return f"helpdesk/{secrets.token_hex(2)}/{secrets.token_urlsafe(24)}.bin"
