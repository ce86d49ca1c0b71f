from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "helpdesk"

    def ready(self) -> None:
        # The expert page shows recent feedback, which lives here (experts sits below us).
        from experts import selectors as expert_selectors
        from helpdesk import selectors

        expert_selectors.set_recent_feedback_provider(selectors.recent_feedback)
