from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "Console"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from fleet.services import audit

        def record_login(sender, request, user, **kwargs) -> None:
            audit.record(
                actor=f"user:{user.get_username()}",
                action="login",
                resource_type="user",
                resource_id=str(user.pk),
                ip=request.META.get("REMOTE_ADDR") if request else None,
            )

        user_logged_in.connect(record_login, dispatch_uid="tellus-audit-login", weak=False)
