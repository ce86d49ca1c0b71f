"""Where chat attachments (and group pictures) live: private storage (config.private_storage),
locally under settings.CHAT_ATTACHMENT_ROOT (default `<BASE_DIR>/private-media/chat`, outside
MEDIA_ROOT) or in S3 when AWS_STORAGE_BUCKET_NAME is set. No URL: every download goes through
the chat's permission-checked views."""

from django.core.files.storage import Storage

from config.private_storage import PrivateStorage

_attachment_storage = PrivateStorage(
    root_setting="CHAT_ATTACHMENT_ROOT",
    default_subdir="chat",
    refusal="Chat attachments are served only by the permission-checked views.",
)


def attachment_storage() -> Storage:
    return _attachment_storage
