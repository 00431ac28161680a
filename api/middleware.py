"""Guarantees for everything under /v1 that no single view can give on its own.

Before the view: refuse oversized bodies and non-JSON content types, by the rules of api.edge that
the charger fast path applies too, on every request that has a body (a Content-Length over zero, a
chunked Transfer-Encoding, or body bytes received), whatever its method. After it: any 400, 404,
405 or 500 that did not come out of our API code as an envelope (a Host not allowed, unknown path,
wrong method, a crash outside a view) becomes one; on the legacy start/stop endpoints, whose errors
are `{"Status", "Reason", "Code"}` (decision: legacy-errors), such a refusal takes that shape
instead. Works sync and async, so it
never forces a thread hop on the async hot path.
"""

import json
import os

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse, JsonResponse

from api.edge import ERROR_HEADERS, check_body_size, check_content_type
from api.envelope import (
    LEGACY_FAILURE_STATUS,
    error_response,
    legacy_failure_body,
    tellus_error_response,
)
from api.input_guard import check_path, check_query_string
from fleet.errors import InvalidParameter

_CONVERTED = {
    400: (1001, "Bad request"),  # Django's own refusals, e.g. a Host not in ALLOWED_HOSTS
    404: (3001, "Resource not found"),
    500: (9001, "Internal server error"),
}


def _received_bytes(request: HttpRequest) -> int:
    """How many body bytes the server handed over, without reading them. An ASGI server
    passes a chunked body with no Content-Length; Django has spooled it to a file by now,
    so its size is known; a stream that cannot tell (WSGI's) counts as empty."""
    if hasattr(request, "_body"):
        return len(request._body)
    stream = getattr(request, "_stream", None)
    try:
        here = stream.tell()
        end = stream.seek(0, os.SEEK_END)
        stream.seek(here)
    except (AttributeError, OSError, ValueError):
        return 0
    return max(end - here, 0)


def _check_request(request: HttpRequest) -> HttpResponse | None:
    try:
        check_path(request.path)
        check_query_string(request.META.get("QUERY_STRING", ""))
    except InvalidParameter as exc:
        return tellus_error_response(exc)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return error_response(1001, "Invalid Content-Length header", {"field": "Content-Length"})
    # A body is a body however it is framed: declared, chunked, or bytes that arrived anyway.
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    received = 0 if length > 0 else _received_bytes(request)
    if length <= 0 and not chunked and received == 0:
        return None
    size_refused = (
        check_body_size(length) if length > 0 else check_body_size(received, declared=False)
    )
    refused = size_refused or check_content_type(request.content_type or "", request.path)
    return None if refused is None else tellus_error_response(refused)


def _method_not_allowed(allow: str | None) -> HttpResponse:
    """1001 in the envelope, with the 405 status and Allow header HTTP requires."""
    refused = error_response(1001, "Method not allowed")
    refused.status_code = 405
    if allow is not None:
        refused["Allow"] = allow
    return refused


def _check_response(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if response.get("Content-Type", "").startswith("application/json"):
        return response
    if response.status_code == 405:
        return _method_not_allowed(response.get("Allow"))
    converted = _CONVERTED.get(response.status_code)
    return response if converted is None else error_response(*converted)


def _legacy_shape(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """On the legacy start/stop endpoints, an envelope refusal made here (or by Django
    before the view) becomes the {"Status", "Reason", "Code"} those endpoints answer."""
    failure_status = LEGACY_FAILURE_STATUS.get(request.path)
    if failure_status is None or response.status_code < 400 or response.streaming:
        return response
    try:
        body = json.loads(response.content)
    except ValueError:
        return response
    if not isinstance(body, dict) or "code" not in body or "Status" in body:
        return response
    reshaped = JsonResponse(
        legacy_failure_body(failure_status, body["code"], body["message"], body.get("details")),
        status=response.status_code,
    )
    for header in ERROR_HEADERS:
        if response.has_header(header):
            reshaped[header] = response[header]
    return reshaped


# HEAD answers like GET without a body, except where a GET changes state: the long poll
# claims commands, and a HEAD would swallow them.
_NO_HEAD = {"/v1/device/commands"}


def _prepare_head(request: HttpRequest) -> HttpResponse | None:
    if request.path in _NO_HEAD:
        return _method_not_allowed("GET")
    request.method = "GET"
    return None


def _strip_body(response: HttpResponse) -> HttpResponse:
    if response.streaming:
        return response
    length = len(response.content)
    response.content = b""
    response["Content-Length"] = str(length)
    return response


def _before(request: HttpRequest) -> HttpResponse | None:
    refused = _check_request(request)
    if refused is None and request.method == "HEAD":
        refused = _prepare_head(request)
    return refused


def _after(request: HttpRequest, response: HttpResponse, head: bool) -> HttpResponse:
    response = _check_response(request, response)
    return _strip_body(response) if head else response


class V1EnvelopeMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if self.is_async:
            return self._acall(request)
        if not request.path.startswith("/v1/"):
            return self.get_response(request)
        head = request.method == "HEAD"
        response = _before(request)
        if response is None:
            response = _after(request, self.get_response(request), head)
        return _legacy_shape(request, response)

    async def _acall(self, request: HttpRequest):
        if not request.path.startswith("/v1/"):
            return await self.get_response(request)
        head = request.method == "HEAD"
        response = _before(request)
        if response is None:
            response = _after(request, await self.get_response(request), head)
        return _legacy_shape(request, response)
