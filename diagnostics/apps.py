from django.apps import AppConfig


class DiagnosticsConfig(AppConfig):
    name = "diagnostics"
    verbose_name = "Diagnostics"

    def ready(self) -> None:
        """Connect diagnostics' reactions to the fleet's event flow (fleet.signals)."""
        from diagnostics.services import alerts
        from fleet import signals

        signals.device_owner_changed.connect(
            alerts.close_alerts_of_departed_chargers, dispatch_uid="alerts-of-departed-chargers"
        )
