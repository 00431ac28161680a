"""The console's own 403, 404 and 500 pages: what happened in words and a way back.

403 and 404 come inside the console frame. The 500 page is drawn from a template that
needs neither the request's user nor the database (it answers when the database is what
failed). Under /v1 the API middleware turns all three into its JSON envelope."""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.contrib.sessions.exceptions import SessionInterrupted
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.views import defaults


def way_back(request: HttpRequest) -> str | None:
    """The page the reader came from, if it is one of ours (a path on this host)."""
    referer = request.META.get("HTTP_REFERER", "")
    if not referer or len(referer) > 2000:
        return None
    parts = urlsplit(referer)
    try:
        host = request.get_host()
    except DisallowedHost:  # no way back through a Host not allowed
        return None
    if parts.netloc != host or not parts.path.startswith("/") or parts.path == request.path:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A session ended while one of its requests ran (its user switched off, or signed
    out elsewhere): that request goes to sign in. Any other 400 is Django's plain one."""
    if isinstance(exception, SessionInterrupted):
        signed_out = redirect_to_login(request.get_full_path())
        signed_out.delete_cookie(
            settings.SESSION_COOKIE_NAME,
            path=settings.SESSION_COOKIE_PATH,
            domain=settings.SESSION_COOKIE_DOMAIN,
            samesite=settings.SESSION_COOKIE_SAMESITE,
        )
        return signed_out
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "console/errors/403.html", {"back": way_back(request)}, status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "console/errors/404.html", {"back": way_back(request)}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """No context processors, no user, no query: plain words and links."""
    html = loader.get_template("console/errors/500.html").render({"path": request.path})
    return HttpResponseServerError(html)
