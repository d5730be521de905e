from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "Console: workspaces, team and API keys"

    def ready(self) -> None:
        # Registers the API key scheme with drf-spectacular.
        from console import schema  # noqa: F401
