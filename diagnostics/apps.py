from django.apps import AppConfig


class DiagnosticsConfig(AppConfig):
    name = "diagnostics"
    verbose_name = "Diagnostics"

    def ready(self) -> None:
        """Connect diagnostics' reactions to the fleet's event flow (fleet.signals)."""
        from diagnostics.services import alerts, detectors
        from diagnostics.services.runbooks import handover
        from fleet import signals

        # A charger leaving an operator: that operator's open runs and alerts on it close.
        signals.device_owner_changed.connect(
            handover.close_runs_of_moved_devices, dispatch_uid="diagnostics-close-moved-runs"
        )
        signals.device_owner_changed.connect(
            alerts.close_alerts_of_departed_chargers, dispatch_uid="alerts-of-departed-chargers"
        )
        # A firmware campaign resumed or cancelled: its halt alert resolves at once.
        signals.firmware_campaign_changed.connect(
            detectors.on_campaign_changed, dispatch_uid="diagnostics-campaign-alerts"
        )
