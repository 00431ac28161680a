"""Every response carries a Content-Security-Policy; pages run only this origin's scripts.

The console, the admin and the API documentation are checked as a signed-in staff user
sees them: any inline script would need the response's nonce, and there is none without.
"""

import re

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db

PAGES = [
    "/",
    "/login/",
    "/alerts/",
    "/commands/",
    "/records/",
    "/energy/",
    "/people/",
    "/admin/",
    "/admin/fleet/device/",
    "/v1/docs",
]


@pytest.fixture
def staff(client):
    get_user_model().objects.create_superuser("lead", password="s3cret-pass")
    assert client.login(username="lead", password="s3cret-pass")
    return client


def directives(response) -> dict[str, str]:
    policy = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


@pytest.mark.parametrize("path", PAGES)
def test_pages_allow_scripts_from_this_origin_only(staff, path):
    response = staff.get(path)
    assert response.status_code == 200
    policy = directives(response)
    assert policy["script-src"].startswith("'self' 'nonce-")
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"


@pytest.mark.parametrize("path", PAGES)
def test_no_page_has_an_inline_script_the_policy_would_block(staff, path):
    html = staff.get(path).content.decode()
    for tag in re.findall(r"<script\b[^>]*>", html):
        runs_inline = "src=" not in tag and 'type="application/json"' not in tag
        assert not runs_inline, f"{path}: {tag}"
    assert not re.search(r"\son[a-z]+=", html), f"{path} has an inline event handler"


def test_each_response_gets_a_fresh_nonce(client):
    first = directives(client.get("/login/"))["script-src"]
    second = directives(client.get("/login/"))["script-src"]
    assert first != second


def test_api_answers_allow_nothing_at_all(client):
    response = client.get("/v1/operator/sites")
    assert response.status_code == 401
    assert response["Content-Security-Policy"].startswith("default-src 'none'")


def test_websockets_to_this_host_are_allowed(staff):
    policy = directives(staff.get("/"))
    assert "ws://testserver" in policy["connect-src"]


def test_a_disallowed_host_still_gets_a_400_with_a_policy(client):
    response = client.get("/login/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert "evil.example" not in response["Content-Security-Policy"]
    assert directives(response)["script-src"].startswith("'self'")
