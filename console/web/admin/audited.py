"""The admin's base class: every change made through the admin is audited, as the staff
user who made it (console/web/actors.py), for the operator(s) the record belongs to."""

from typing import Any

from django.contrib import admin

from console.web.actors import actor_from_console_request
from fleet.services import audit, tenancy

_PENDING = "_tellus_audit_pending"


class AuditedAdmin(admin.ModelAdmin):
    """Every save and delete made through this admin — inline rows included — goes to the
    audit trail: the staff user as actor, the operator(s) the record belongs to, the
    changed fields before → after (secrets redacted) and the request's address.

    The entry is written in save_related, after many-to-many fields and inlines are
    saved, so `after` is the record as the admin left it.
    """

    def audit_operator_id(self, obj) -> str | None:
        return audit.operator_id_of(obj)

    def _audit(self, request, subject, action: str, before, after, operators, **details: Any):
        audit.record_change(
            actor_from_console_request(request),
            action=action,
            subject=subject,
            before=before,
            after=after,
            operator_ids=operators,
            details={"via": "admin", **details},
        )

    def _stored(self, obj):
        return type(obj)._default_manager.filter(pk=obj.pk).first() if obj.pk else None

    def save_model(self, request, obj, form, change):
        stored = self._stored(obj) if change else None
        pending = getattr(request, _PENDING, {})
        pending[id(obj)] = (
            audit.snapshot(stored) if stored else None,
            self.audit_operator_id(stored) if stored else None,
        )
        setattr(request, _PENDING, pending)
        # A charger or site changing hands here is the staff user's in the ownership log.
        with tenancy.acting_as(actor_from_console_request(request)):
            super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        obj = form.instance
        if (pending := getattr(request, _PENDING, {}).pop(id(obj), None)) is None:
            return
        before, operator_before = pending
        self._audit(
            request,
            audit.subject_of(obj),
            "update" if before is not None else "create",
            before,
            audit.snapshot(obj),
            [operator_before, self.audit_operator_id(obj)],
        )

    def save_formset(self, request, form, formset, change):
        model = formset.model
        ids = [f.instance.pk for f in formset.initial_forms if f.instance.pk]
        stored = {o.pk: o for o in model._default_manager.filter(pk__in=ids)}
        # Deleted rows lose their pk on delete; remember them by the instance.
        known = {
            id(f.instance): (
                audit.subject_of(f.instance),
                audit.snapshot(stored[f.instance.pk]),
                audit.operator_id_of(stored[f.instance.pk]),
            )
            for f in formset.initial_forms
            if f.instance.pk in stored
        }
        super().save_formset(request, form, formset, change)
        parent = "{}:{}".format(*audit.subject_of(form.instance))
        for obj in formset.new_objects:
            operators = [audit.operator_id_of(obj)]
            after = audit.snapshot(obj)
            self._audit(
                request, audit.subject_of(obj), "create", None, after, operators, parent=parent
            )
        for obj, _fields in formset.changed_objects:
            subject, before, operator_before = known[id(obj)]
            operators = [operator_before, audit.operator_id_of(obj)]
            after = audit.snapshot(obj)
            self._audit(request, subject, "update", before, after, operators, parent=parent)
        for obj in formset.deleted_objects:
            subject, before, operator_before = known[id(obj)]
            self._audit(request, subject, "delete", before, None, [operator_before], parent=parent)

    def _before_delete(self, objs) -> list[tuple]:
        # Taken before the delete: afterwards the rows, their pks and owners are gone.
        return [(audit.subject_of(o), audit.snapshot(o), self.audit_operator_id(o)) for o in objs]

    def _audit_deleted(self, request, gone: list[tuple]) -> None:
        for subject, before, operator_id in gone:
            self._audit(request, subject, "delete", before, None, [operator_id])

    def delete_model(self, request, obj):
        gone = self._before_delete([obj])
        super().delete_model(request, obj)
        self._audit_deleted(request, gone)

    def delete_queryset(self, request, queryset):
        gone = self._before_delete(queryset)
        super().delete_queryset(request, queryset)
        self._audit_deleted(request, gone)
