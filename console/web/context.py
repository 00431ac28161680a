"""What every console template may know about who is looking: `console` (the
ConsoleAccess of pages built through `console_view`), for platform staff the operators
they can switch to, and the time zone the page's times are in (`time_zone_label`)."""

from django.http import HttpRequest
from django.utils.timezone import get_current_timezone_name as zone_name

from console.web.times import zone_label
from console.web.views.session import renew_every_seconds
from fleet.models import Operator


def console_access(request: HttpRequest) -> dict:
    access = getattr(request, "console", None)
    if access is None:
        return {"time_zone_label": zone_label(), "time_zone_name": zone_name()}
    context = {
        "console": access,
        "time_zone_label": zone_label(),
        "time_zone_name": zone_name(),
        "live_renew_seconds": renew_every_seconds(),
    }
    if access.is_staff and not request.htmx:
        context["switchable_operators"] = list(
            Operator.objects.order_by("name").values_list("operator_id", "name")
        )
    return context
