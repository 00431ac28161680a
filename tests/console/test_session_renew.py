"""Renewing a session (GET /session/renew, what a live page does now and then): only for a
signed-in, active console user, and well inside the idle limit. In a browser, over the
idle limit: tests/console/test_browser_session.py."""

import pytest
from django.test import Client

from console.web.views.session import renew_every_seconds

RENEW = "/session/renew"


@pytest.mark.django_db
def test_a_signed_in_user_renews_the_session(signed_in, make_client):
    make_client("Acme Charging")
    visitor = signed_in("Acme Charging", "viewer")
    response = visitor.get(RENEW)
    assert response.status_code == 204
    assert response.cookies["sessionid"]["max-age"] > 0  # the cookie's idle clock restarts
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_nobody_else_renews_anything(signed_in, make_client, client):
    answer = client.get(RENEW)
    assert answer.status_code == 401
    assert "sessionid" not in answer.cookies  # no session made for a stranger

    make_client("Acme Charging")
    visitor = signed_in("Acme Charging", "viewer", username="vera")
    user = visitor.get("/").wsgi_request.user
    user.is_active = False
    user.save()
    assert visitor.get(RENEW).status_code == 401
    assert Client().post(RENEW).status_code == 405


def test_renewal_comes_well_inside_the_idle_limit(settings):
    settings.SESSION_COOKIE_AGE = 3600
    assert renew_every_seconds() == 900
    settings.SESSION_COOKIE_AGE = 60
    assert renew_every_seconds() == 15
