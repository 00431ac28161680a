"""What every answer of ours must look like, whatever was sent."""

from typing import Any

import httpx

from api.envelope import HTTP_STATUS
from tests.fuzz.templates import LEGACY_QUERY, LEGACY_STATUS, Template

CODES = {0, 1001, 1002, 2001, 2002, 2003, 3001, 4001, 5001}


def check_shape(template: Template, response: httpx.Response) -> Any:
    """The answer's shape for its operation; returns the decoded answer."""
    assert response.status_code < 500, response.text
    assert response.headers.get("content-type", "").startswith("application/json"), response.text
    answer = response.json()
    status = response.status_code
    if template.shape == LEGACY_STATUS:
        assert isinstance(answer, dict) and "Status" in answer, answer
        if status >= 400:
            assert answer["Status"] in {"START_FAILED", "Reject"}, answer
            assert answer["Code"] in CODES - {0}, answer
            assert HTTP_STATUS[answer["Code"]] == status or status == 405, answer
        return answer
    if template.shape == LEGACY_QUERY and status < 400:
        return answer
    assert isinstance(answer, dict), answer
    assert {"code", "message", "data"} <= set(answer), answer
    assert answer["code"] in CODES, answer
    if status == 405:
        assert answer["code"] == 1001, answer
    else:
        assert HTTP_STATUS[answer["code"]] == status, answer
    if status >= 400:
        assert answer["data"] is None, answer
    else:
        assert answer["message"] == "success", answer
    return answer
