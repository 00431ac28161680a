from django.apps import AppConfig


class DiagnosticsConfig(AppConfig):
    name = "diagnostics"
    verbose_name = "Diagnostics"

    def ready(self) -> None:
        """Connect diagnostics' reactions to the fleet's event flow (fleet.signals)."""
        from diagnostics.services import runbooks
        from fleet import signals

        signals.device_owner_changed.connect(
            runbooks.close_runs_of_moved_devices, dispatch_uid="diagnostics-close-moved-runs"
        )
