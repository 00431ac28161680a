"""Users and groups in the admin, audited like every other admin change, with the
operator a console user works for edited on the user's page."""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group

from console.web.admin.audited import AuditedAdmin
from console.web.models import OperatorMember, operator_id_for
from console.web.sessions import end_sessions
from fleet.services import audit

User = get_user_model()


class OperatorMemberInline(admin.StackedInline):
    model = OperatorMember
    can_delete = True
    max_num = 1
    extra = 0
    verbose_name = "works for operator"
    verbose_name_plural = "works for operator (none: platform staff)"


if admin.site.is_registered(User):
    admin.site.unregister(User)
if admin.site.is_registered(Group):
    admin.site.unregister(Group)


@admin.register(User)
class AuditedUserAdmin(AuditedAdmin, UserAdmin):
    inlines = [OperatorMemberInline]

    def audit_operator_id(self, obj) -> str | None:
        return operator_id_for(obj)

    def user_change_password(self, request, id, form_url=""):
        # Django's password page saves the form itself, past save_model.
        stored = self.get_object(request, unquote(id))
        before = audit.snapshot(stored) if stored else None
        old_hash = stored.password if stored else None
        response = super().user_change_password(request, id, form_url)
        if stored is not None and request.method == "POST":
            stored.refresh_from_db()
            if stored.password != old_hash:  # set: every session of theirs ends
                own = stored.pk == request.user.pk
                end_sessions(stored, keep=request.session if own else None)
            self._audit(
                request,
                audit.subject_of(stored),
                "set_password",
                before,
                audit.snapshot(stored),
                [operator_id_for(stored)],
            )
        return response


@admin.register(Group)
class AuditedGroupAdmin(AuditedAdmin, GroupAdmin):
    pass
