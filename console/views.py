from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from fleet.models import Device, Operator, Site


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Fleet overview: the starting point of the console."""
    context = {
        "operator_count": Operator.objects.count(),
        "site_count": Site.objects.count(),
        "device_count": Device.objects.count(),
        "online_count": Device.objects.filter(status=Device.Status.ONLINE).count(),
        "unassigned_count": Device.objects.filter(site__isnull=True).count(),
        "recent_devices": Device.objects.select_related("site").order_by("-registered_at")[:10],
    }
    return render(request, "console/home.html", context)


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and `make run`: answers once the database does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "database": connection.vendor})
