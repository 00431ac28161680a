import json
from typing import Any

from django.http import HttpRequest
from ninja.parser import Parser


class TellusParser(Parser):
    """JSON bodies everywhere; the token endpoints also take the form encoding that
    generic OAuth2 client libraries send (the middleware allows it only there)."""

    def parse_body(self, request: HttpRequest) -> Any:
        if request.content_type == "application/x-www-form-urlencoded":
            return {key: request.POST.get(key) for key in request.POST}
        return json.loads(request.body)
