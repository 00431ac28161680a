"""A live page keeps its session: an open, live console page is someone watching, so the
page renews the session now and then (static/console/live.js) and its updates flow for as
long as it stays open. Signing out, deactivation or losing access still end it (the live
socket's recheck closes with 4401); a browser with no console page open idles out after
TELLUS_CONSOLE_IDLE_MINUTES as before."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from console.web.access import access_of


@never_cache
@require_GET
def renew(request: HttpRequest) -> HttpResponse:
    """204 and a renewed session cookie for a signed-in console user (the session
    middleware saves every request); 401 for anyone else, without creating a session."""
    if access_of(request.user, request.session, request.META.get("REMOTE_ADDR")) is None:
        return HttpResponse(status=401)
    return HttpResponse(status=204)


def renew_every_seconds() -> int:
    """How often a live page renews its session: well inside the idle limit."""
    return max(15, settings.SESSION_COOKIE_AGE // 4)
