"""Every 403 is one WARNING line in the log saying who was refused, what, and why; never
a traceback. Console pages and the API alike."""

import logging

import pytest

from console.log_refusals import OneLineRefusals

pytestmark = pytest.mark.django_db


def refusals(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "django.request"]


@pytest.fixture
def viewer(make_client, signed_in):
    make_client("Acme Charging")
    return signed_in("Acme Charging", "viewer", username="vera")


def test_a_console_refusal_is_one_line_with_who_what_and_why(viewer, caplog):
    caplog.set_level(logging.INFO)
    assert viewer.get("/people/").status_code == 403
    [record] = refusals(caplog)
    assert record.levelno == logging.WARNING
    assert record.exc_info is None and record.exc_text is None
    assert (
        record.getMessage()
        == "Forbidden: GET /people/ by user:vera: needs the admin role (has viewer)"
    )
    assert "Traceback" not in caplog.text


def test_the_why_survives_logging_being_configured_twice(viewer, caplog):
    """Django configures logging again each time an application is made (a server
    importing console.asgi after manage.py has set up), which adds the filter a second
    time; the second pass must keep the reason the first one wrote."""
    second = OneLineRefusals()
    logging.getLogger("django.request").addFilter(second)
    try:
        caplog.set_level(logging.INFO)
        assert viewer.get("/people/").status_code == 403
    finally:
        logging.getLogger("django.request").removeFilter(second)
    [record] = refusals(caplog)
    assert record.getMessage() == (
        "Forbidden: GET /people/ by user:vera: needs the admin role (has viewer)"
    )


def test_what_a_client_put_in_the_path_cannot_break_the_line(viewer, caplog):
    caplog.set_level(logging.INFO)
    assert viewer.post("/devices/dvc_x%0AFAKE%20entry/start/").status_code == 403
    [record] = refusals(caplog)
    line = record.getMessage()
    assert "\n" not in line and "\r" not in line
    assert "/devices/dvc_x\\x0aFAKE entry/start/ by user:vera" in line


def test_an_api_refusal_names_the_client_and_the_missing_scope(
    api, make_client, operator_token, caplog
):
    caplog.set_level(logging.INFO)
    client, secret = make_client(scopes=["write"])
    response = api.get("/v1/operator/sites", operator_token(client, secret))
    assert response.status_code == 403
    [record] = refusals(caplog)
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert record.getMessage() == (
        f"Forbidden: GET /v1/operator/sites by client:{client.client_id}: "
        "This client lacks the 'read' scope"
    )


def test_other_answers_are_logged_as_before(viewer, caplog):
    caplog.set_level(logging.INFO)
    assert viewer.get("/devices/dvc_nobody/").status_code == 404
    [record] = refusals(caplog)
    assert record.getMessage() == "Not Found: /devices/dvc_nobody/"
