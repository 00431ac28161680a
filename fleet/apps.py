from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save, pre_save


class FleetConfig(AppConfig):
    name = "fleet"
    verbose_name = "Fleet"

    def ready(self) -> None:
        """Connect the event flow here, the one place that knows both ends of it."""
        from fleet import signals, tasks
        from fleet.models import ApiClient, Device, Site
        from fleet.services import auth, firmware_campaigns, legacy, tenancy

        signals.command_changed.connect(legacy.on_command_change)
        signals.command_changed.connect(firmware_campaigns.on_command_changed)
        signals.session_ended.connect(legacy.on_session_end)
        signals.legacy_push_due.connect(tasks.enqueue_legacy_push)
        pre_save.connect(auth.note_token_field_changes, sender=ApiClient)
        post_save.connect(auth.revoke_on_token_field_change, sender=ApiClient)
        post_delete.connect(auth.revoke_deleted_client, sender=ApiClient)
        post_delete.connect(auth.revoke_deleted_device, sender=Device)
        for owned in (Device, Site):
            pre_save.connect(tenancy.note_owner, sender=owned)
            post_save.connect(tenancy.announce_owner_change, sender=owned)
