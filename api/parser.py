from typing import Any

from django.http import HttpRequest
from ninja.parser import Parser

from api.edge import FORM_CONTENT_TYPE
from api.input_guard import check_form, load_json


class TellusParser(Parser):
    """Strict JSON bodies everywhere (api.input_guard); the token endpoints also take the
    form encoding that generic OAuth2 client libraries send (api.edge allows it only
    there)."""

    def parse_body(self, request: HttpRequest) -> Any:
        if request.content_type == FORM_CONTENT_TYPE:
            form = {key: request.POST.get(key) for key in request.POST}
            check_form(form)
            return form
        return load_json(request.body)
