from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt

from api.envelope import error_response
from api.v1 import api
from console.web import signin


@csrf_exempt  # bearer-token API: CSRF never applies under /v1/
def v1_not_found(request, unmatched: str = ""):
    return error_response(3001, "Resource not found")


admin.site.site_header = "Tellus platform administration"
admin.site.site_title = "Tellus admin"
admin.site.index_title = "Platform data: operators, fleet, diagnostics, audit"
# The admin's password forms share the console's throttle (console/web/signin.py).
admin.site.login_form = signin.ThrottledAdminAuthenticationForm

urlpatterns = [
    path("admin/login/", signin.admin_login),
    path("admin/password_change/", signin.admin_password_change),
    path("admin/", admin.site.urls),
    # Ninja's own root view would answer the bare prefix outside the envelope.
    path("v1/", v1_not_found),
    path("v1/", api.urls),
    re_path(r"^v1/(?P<unmatched>.*)$", v1_not_found),
    path("", include("console.web.urls")),
]

# The console's own error pages; under /v1 the API middleware answers in its envelope.
handler400 = "console.web.views.errors.bad_request"
handler403 = "console.web.views.errors.permission_denied"
handler404 = "console.web.views.errors.page_not_found"
handler500 = "console.web.views.errors.server_error"
