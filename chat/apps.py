from django.apps import AppConfig


class ChatConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "chat"

    def ready(self) -> None:
        # Closing, erasing and exporting an account reach this app's data through this handler.
        from accounts.personal_data import register_account_data_handler
        from chat.personal_data import HANDLER

        register_account_data_handler(HANDLER)

        # Chat's frames on the live socket, its part of "hello", and who hears of presence.
        from chat import frames
        from live import presence
        from live.consumer import register_hello_count, register_hello_part

        register_hello_part(frames.hello_part)
        register_hello_count("chat_unread", frames.hello_unread_count)
        presence.install_policy(frames.presence_policy)
