from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "helpdesk"

    def ready(self) -> None:
        # The expert page shows recent feedback, which lives here (experts sits below us);
        # a withdrawn approval hands back the requests the expert holds, which live here too.
        # The chat between requester and expert pins the request's card (chat sits below us).
        from accounts.personal_data import register_account_data_handler
        from chat import pins
        from experts import selectors as expert_selectors
        from experts import services as expert_services
        from helpdesk import selectors, services, views
        from helpdesk.personal_data import HANDLER

        expert_selectors.set_recent_feedback_provider(selectors.recent_feedback)
        expert_services.set_standing_withdrawn_handler(services.release_on_withdrawn_approval)
        pins.register_pin_provider(views.chat_pins)
        # Closing an account hands back its held and open requests; erasing and exporting it
        # reach its requests, documents and ratings.
        register_account_data_handler(HANDLER)
