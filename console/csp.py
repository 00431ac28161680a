"""Content-Security-Policy on every response (Django 5.2 has none built in).

Pages may run only scripts and styles served from this origin, plus an inline block that
carries the request's nonce (`{{ csp_nonce }}` in templates); no eval, no plugins, no
framing, forms posting only here. WebSockets go to this host only. Responses that are not
pages (the API's JSON) get a policy that allows nothing at all. Sync and async, so it
never forces a thread hop on the API.
"""

import secrets

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"
NOTHING = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def page_policy(request: HttpRequest, nonce: str) -> str:
    # 'self' covers ws/wss only in newer browsers: name the host explicitly too, once
    # ALLOWED_HOSTS vouches for it (a refused Host gets its 400 with 'self' alone).
    try:
        host = request.get_host()
    except DisallowedHost:
        sockets = ""
    else:
        sockets = f" wss://{host}" if request.is_secure() else f" ws://{host} wss://{host}"
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            f"style-src 'self' 'nonce-{nonce}'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src 'self'{sockets}",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _with_policy(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if HEADER in response:
        return response
    if response.get("Content-Type", "").startswith("text/html"):
        response[HEADER] = page_policy(request, request.csp_nonce)
    else:
        response[HEADER] = NOTHING
    return response


class ContentSecurityPolicyMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        request.csp_nonce = secrets.token_urlsafe(16)
        if self.is_async:
            return self._acall(request)
        return _with_policy(request, self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        return _with_policy(request, await self.get_response(request))


def nonce(request: HttpRequest) -> dict[str, str]:
    """Template context processor: `csp_nonce` for the rare inline block that needs one."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}
