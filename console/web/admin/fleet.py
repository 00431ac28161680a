"""The platform's records in the admin: operators, API clients, sites, chargers and what
they report, commands and legacy pushes. Every change is audited (AuditedAdmin)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminURLFieldWidget

from console.web.actors import actor_from_console_request
from console.web.admin.audited import AuditedAdmin
from fleet import models
from fleet.credentials import hash_secret, new_secret
from fleet.errors import TellusError
from fleet.secrets_box import seal
from fleet.services import audit, provisioning
from fleet.services.legacy import retry_dead_push


@admin.register(models.Operator)
class OperatorAdmin(AuditedAdmin):
    list_display = ["name", "operator_id", "created_at"]
    search_fields = ["name", "operator_id"]


class ApiClientForm(forms.ModelForm):
    # The model's own form field (length, help text), with https as the assumed scheme.
    legacy_callback_url = models.ApiClient._meta.get_field("legacy_callback_url").formfield(
        assume_scheme="https", widget=AdminURLFieldWidget
    )

    class Meta:
        model = models.ApiClient
        fields = [
            "operator", "name", "scopes", "legacy_callback_url", "require_signed_writes",
            "is_active",
        ]  # fmt: skip

    def clean_scopes(self) -> list[str]:
        # A form error, not a crash, for whatever JSON a staff member types here.
        scopes = self.cleaned_data.get("scopes")
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise forms.ValidationError('Scopes are a list of names, e.g. ["read", "write"].')
        try:
            return provisioning.validate_scopes(scopes)
        except TellusError as exc:
            raise forms.ValidationError(exc.message) from None


@admin.register(models.ApiClient)
class ApiClientAdmin(AuditedAdmin):
    form = ApiClientForm
    list_display = ["client_id", "operator", "name", "scopes", "is_active", "created_at"]
    list_filter = ["is_active", "operator"]
    search_fields = ["client_id", "name", "operator__name"]
    readonly_fields = ["client_id", "secret_version", "secret_rotated_at", "created_at"]
    exclude = ["secret_hash", "secret_sealed"]
    actions = ["rotate_secret"]

    def save_model(self, request, obj, form, change):
        if not change:
            secret = new_secret()
            obj.secret_hash = hash_secret(secret)
            obj.secret_sealed = seal(secret)
            super().save_model(request, obj, form, change)
            self.message_user(
                request,
                f"Client {obj.client_id} created. Its secret, shown this once: {secret}",
                messages.WARNING,
            )
            return
        # A change of scopes, activation or operator revokes earlier tokens (fleet.services.auth).
        super().save_model(request, obj, form, change)

    @admin.action(description="Rotate the secret (earlier tokens stop working)")
    def rotate_secret(self, request, queryset):
        for client in queryset:
            _, secret = provisioning.rotate_client_secret(
                actor_from_console_request(request), client.client_id
            )
            self.message_user(
                request,
                f"New secret for {client.client_id}, shown this once: {secret}",
                messages.WARNING,
            )


@admin.register(models.Site)
class SiteAdmin(AuditedAdmin):
    list_display = ["name", "site_id", "operator", "status", "power_capacity", "created_at"]
    list_filter = ["status", "operator"]
    search_fields = ["name", "site_id", "address"]
    readonly_fields = ["site_id", "created_at"]


class ConnectorInline(admin.TabularInline):
    model = models.Connector
    extra = 0
    readonly_fields = ["last_telemetry_time", "updated_at"]


@admin.register(models.Device)
class DeviceAdmin(AuditedAdmin):
    list_display = [
        "device_id",
        "sn",
        "model",
        "firmware_version",
        "site",
        "status",
        "last_heartbeat",
    ]
    list_filter = ["status", "model", "v2g_capable", "site__operator"]
    search_fields = ["device_id", "sn", "mac"]
    readonly_fields = [
        "device_id",
        "credential_version",
        "secret_expires_at",
        "last_heartbeat",
        "reported_status",
        "reported_fault_code",
        "online_since",
        "offline_since",
        "registered_at",
        "updated_at",
    ]
    exclude = ["secret_hash"]
    inlines = [ConnectorInline]
    actions = ["reset_credentials"]

    def has_add_permission(self, request):
        return False  # chargers register themselves through the API

    @admin.action(description="Reset credentials (issue a new device secret)")
    def reset_credentials(self, request, queryset):
        for device in queryset:
            _, secret = provisioning.reset_device_credentials(
                actor_from_console_request(request), device.device_id
            )
            self.message_user(
                request,
                f"New secret for {device.device_id}, shown this once: {secret}",
                messages.WARNING,
            )


@admin.register(models.TelemetrySample)
class TelemetrySampleAdmin(AuditedAdmin):
    list_display = ["device", "connector_id", "timestamp", "state", "power", "voltage", "soc"]
    list_filter = ["state"]
    search_fields = ["device__device_id"]
    raw_id_fields = ["device"]
    date_hierarchy = "timestamp"


@admin.register(models.DeviceEvent)
class DeviceEventAdmin(AuditedAdmin):
    list_display = ["device", "connector_id", "event_type", "fault_code", "source", "timestamp"]
    list_filter = ["event_type", "source"]
    search_fields = ["device__device_id", "fault_code"]
    raw_id_fields = ["device"]
    date_hierarchy = "timestamp"


@admin.register(models.ChargingRecord)
class ChargingRecordAdmin(AuditedAdmin):
    list_display = ["record_id", "device", "connector_id", "start_time", "end_time", "energy"]
    search_fields = ["record_id", "device__device_id"]
    raw_id_fields = ["device"]
    date_hierarchy = "start_time"


class CommandStatusChangeInline(admin.TabularInline):
    model = models.CommandStatusChange
    extra = 0
    can_delete = False
    readonly_fields = ["status", "source", "message", "details", "at"]


@admin.register(models.Command)
class CommandAdmin(AuditedAdmin):
    list_display = ["command_id", "command", "device", "connector_id", "status", "created_at"]
    list_filter = ["status", "command"]
    search_fields = ["command_id", "device__device_id", "control_id"]
    raw_id_fields = ["device", "issued_by_client", "issued_by_user"]
    inlines = [CommandStatusChangeInline]


@admin.register(models.FirmwareUpdate)
class FirmwareUpdateAdmin(AuditedAdmin):
    list_display = ["device", "firmware_version", "status", "progress", "updated_at"]
    list_filter = ["status"]
    raw_id_fields = ["device"]


@admin.register(models.Schedule)
class ScheduleAdmin(AuditedAdmin):
    list_display = ["schedule_id", "device", "connector_id", "type", "enabled", "updated_at"]
    list_filter = ["type", "enabled"]
    raw_id_fields = ["device"]


@admin.register(models.Control)
class ControlAdmin(AuditedAdmin):
    list_display = ["control_id", "operator", "command", "target_type", "created_at"]
    list_filter = ["command", "target_type"]
    raw_id_fields = ["issued_by_client", "issued_by_user"]


class LegacyPushAttemptInline(admin.TabularInline):
    model = models.LegacyPushAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["at", "outcome", "status_code", "detail"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(models.LegacyPush)
class LegacyPushAdmin(AuditedAdmin):
    list_display = ["id", "kind", "client", "status", "attempts", "next_attempt_at", "created_at"]
    list_filter = ["status", "kind"]
    search_fields = ["url", "ordering_key"]
    readonly_fields = [
        "client",
        "kind",
        "method",
        "url",
        "payload",
        "ordering_key",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
        "delivered_at",
    ]
    inlines = [LegacyPushAttemptInline]
    actions = ["retry_dead"]

    @admin.action(description="Retry the selected dead pushes now")
    def retry_dead(self, request, queryset):
        dead = list(queryset.filter(status=models.LegacyPush.Status.DEAD).select_related("client"))
        actor = actor_from_console_request(request)
        for push in dead:
            retry_dead_push(push.pk)
            audit.record(
                actor,
                action="retry_push",
                resource_type="legacy_push",
                resource_id=str(push.pk),
                operator_id=push.client.operator_id,
                details={"via": "admin", "kind": push.kind, "attempts": push.attempts},
                before={"status": push.status},
                after={"status": models.LegacyPush.Status.PENDING},
            )
        self.message_user(request, f"{len(dead)} dead push(es) queued for another attempt.")


@admin.register(models.LegacyOrder)
class LegacyOrderAdmin(AuditedAdmin):
    list_display = [
        "order_id",
        "vendor_order_id",
        "client",
        "device",
        "connector_id",
        "kind",
        "status",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["order_id", "vendor_order_id", "device__device_id"]
    raw_id_fields = ["device", "start_command"]


@admin.register(models.AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the one place platform-wide entries (staff logins, dictionary edits,
    deleted operators) can be read."""

    list_display = ["at", "actor", "action", "resource_type", "resource_id", "operator", "ip"]
    list_filter = ["action", "resource_type", "operator"]
    search_fields = ["actor", "resource_id"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.DeviceOwnershipChange)
class DeviceOwnershipChangeAdmin(admin.ModelAdmin):
    """Read-only: who owned which charger when, across the platform (each charger's own
    list is on its console page, for staff)."""

    list_display = [
        "at", "device", "operator_before_name", "site_before_name", "operator_after_name",
        "site_after_name", "via_site", "actor",
    ]  # fmt: skip
    list_filter = ["via_site"]
    search_fields = ["device__device_id", "device__sn", "actor"]
    raw_id_fields = ["device"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
