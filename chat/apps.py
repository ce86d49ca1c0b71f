from django.apps import AppConfig


class ChatConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "chat"

    def ready(self) -> None:
        # Closing, erasing and exporting an account reach this app's data through this handler.
        from accounts.personal_data import register_account_data_handler
        from chat.personal_data import HANDLER

        register_account_data_handler(HANDLER)

        # Every live push after a write (live.push) is one chat.realtime publish.
        from chat import realtime
        from live.push import install_publisher

        install_publisher(realtime.push_to_users)
