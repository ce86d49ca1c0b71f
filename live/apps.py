from django.apps import AppConfig


class LiveConfig(AppConfig):
    """The socket stack (see live.consumer). An app only for its one table, the revoked API
    logins (live.models.RevokedLogin): live still imports no app."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "live"
