"""What every console template may know about who is looking: `console` (the
ConsoleAccess of pages built through `console_view`) and, for platform staff, the
operators they can switch to."""

from django.http import HttpRequest

from console.web.views.session import renew_every_seconds
from fleet.models import Operator


def console_access(request: HttpRequest) -> dict:
    access = getattr(request, "console", None)
    if access is None:
        return {}
    context = {"console": access, "live_renew_seconds": renew_every_seconds()}
    if access.is_staff and not request.htmx:
        context["switchable_operators"] = list(
            Operator.objects.order_by("name").values_list("operator_id", "name")
        )
    return context
