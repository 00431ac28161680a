"""The console's own 403, 404 and 500 pages: inside the console's look, saying in words what
happened, with a way back (the page one came from, the fleet page, or signing in). The 500
page is drawn without the database. Under /v1 the API keeps its JSON envelope."""

import json

import pytest
from django.db import OperationalError
from django.test import Client, RequestFactory
from django.urls import include, path

from console.urls import handler403, handler404, handler500  # noqa: F401 (this test's URLconf)
from console.web.views.errors import server_error

pytestmark = pytest.mark.django_db


def crash(request):
    raise OperationalError("could not connect to server: Connection refused")


# A URLconf of the console with a page and an API route that fail as a lost database does.
urlpatterns = [
    path("crash/", crash),
    path("v1/crash", crash),
    path("", include("console.urls")),
]


def test_an_unknown_page_says_so_in_the_console_frame_with_the_way_back(device, signed_in):
    browser = signed_in("Acme Charging")
    response = browser.get(
        "/no-such-page/", headers={"referer": "http://testserver/records/?page=2"}
    )
    page = response.content.decode()
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
    assert '<header class="topbar">' in page and 'href="/static/console/console.css"' in page
    assert "<h1>There is nothing here</h1>" in page
    assert '<a href="/records/?page=2">Back to the page you came from</a>' in page
    assert '<a href="/">Go to the fleet page</a>' in page


def test_another_operators_charger_is_the_same_styled_404(
    device, signed_in, make_client, site_for, assigned_device
):
    rival, _ = make_client("Rival Energy")
    theirs = assigned_device(rival, site_for(rival, "Rival Yard"))
    response = signed_in("Acme Charging").get(f"/devices/{theirs.device_id}/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "There is nothing here" in page and theirs.sn not in page and "Rival" not in page


def test_a_way_back_leads_only_to_our_own_pages(device, signed_in):
    browser = signed_in("Acme Charging")
    for referer in (
        "https://evil.example/phish",
        "javascript:alert(1)",
        "http://testserver" + "/x" * 2000,
    ):
        page = browser.get("/no-such-page/", headers={"referer": referer}).content.decode()
        assert "Back to the page you came from" not in page and "evil.example" not in page


def test_signed_out_the_404_offers_to_sign_in(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert '<a href="/login/">Sign in</a>' in response.content.decode()


def test_a_page_the_role_does_not_open_is_a_styled_403_that_changes_nothing(device, signed_in):
    response = signed_in("Acme Charging", "viewer").get("/people/")
    page = response.content.decode()
    assert response.status_code == 403
    assert '<header class="topbar">' in page and "<h1>You cannot do this here</h1>" in page
    assert "(role: viewer)" in page and "Nothing was changed" in page
    assert "ask an admin of your operator" in page
    assert '<a href="/">Go to the fleet page</a>' in page


@pytest.mark.urls("tests.console.test_error_pages")
def test_a_failure_is_a_styled_500_with_a_way_back(device, signed_in):
    browser = signed_in("Acme Charging")
    browser.raise_request_exception = False
    response = browser.get("/crash/")
    page = response.content.decode()
    assert response.status_code == 500
    assert '<header class="topbar">' in page and 'href="/static/console/console.css"' in page
    assert "<h1>Something went wrong on our side</h1>" in page
    assert '<a href="/crash/">Try this page again</a>' in page and '<a href="/">' in page
    assert "OperationalError" not in page and "Connection refused" not in page


def test_the_500_page_is_drawn_without_the_database(django_db_blocker):
    request = RequestFactory().get("/devices/dvc_1/")
    with django_db_blocker.block():  # any query would raise here
        response = server_error(request)
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


@pytest.mark.urls("tests.console.test_error_pages")
def test_the_api_keeps_its_envelope_for_failures_and_unknown_paths():
    api = Client(raise_request_exception=False)
    failed = api.get("/v1/crash")
    assert failed.status_code == 500 and failed["Content-Type"] == "application/json"
    assert json.loads(failed.content)["code"] == 9001
    missing = api.get("/v1/no/such/thing")
    assert missing.status_code == 404 and json.loads(missing.content)["code"] == 3001
    assert b"<html" not in missing.content
