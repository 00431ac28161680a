"""The fleet area: the overview page a signed-in user lands on."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from console.web.models import operator_id_for
from fleet.models import Device, Operator, Site
from fleet.services.tenancy import devices_of, sites_of


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Fleet overview: the starting point of the console. A user who works for an
    operator sees that operator's fleet only; platform staff see every operator's."""
    operator_id = operator_id_for(request.user)
    if operator_id is None:
        sites, devices = Site.objects.all(), Device.objects.all()
        context = {
            "operator_count": Operator.objects.count(),
            "unassigned_count": devices.filter(site__isnull=True).count(),
        }
    else:
        sites, devices = sites_of(operator_id), devices_of(operator_id)
        context = {"operator": Operator.objects.get(pk=operator_id)}
    context.update(
        site_count=sites.count(),
        device_count=devices.count(),
        online_count=devices.filter(status=Device.Status.ONLINE).count(),
        recent_devices=devices.select_related("site").order_by("-registered_at")[:10],
    )
    return render(request, "console/fleet/overview.html", context)
