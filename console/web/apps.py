from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console.web"
    # The label the app had when it lived at `console`: migrations and tables keep it.
    label = "console"
    verbose_name = "Console"

    def ready(self) -> None:
        from console.web import signals

        signals.connect()
