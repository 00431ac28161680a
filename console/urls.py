from django.contrib import admin
from django.urls import include, path, re_path

from api.envelope import error_response
from api.v1 import api


def v1_not_found(request, unmatched: str = ""):
    return error_response(3001, "Resource not found")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("v1/", api.urls),
    re_path(r"^v1/(?P<unmatched>.*)$", v1_not_found),
    path("", include("console.console_urls")),
]
