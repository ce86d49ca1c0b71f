"""Where data exports live: private storage (config.private_storage), locally under
settings.ACCOUNT_EXPORT_ROOT (default `<BASE_DIR>/private-media/exports`, outside MEDIA_ROOT) or
in S3 when AWS_STORAGE_BUCKET_NAME is set. No URL: the owner downloads through the
permission-checked views."""

from django.core.files.storage import Storage

from config.private_storage import PrivateStorage

_export_storage = PrivateStorage(
    root_setting="ACCOUNT_EXPORT_ROOT",
    default_subdir="exports",
    refusal="Data exports are served only to their owner by the permission-checked views.",
)


def export_storage() -> Storage:
    return _export_storage
