from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"

    def ready(self) -> None:
        # The unread count in every live socket's "hello".
        from live.consumer import register_hello_count
        from notifications import realtime

        register_hello_count("unread", realtime.hello_unread)
