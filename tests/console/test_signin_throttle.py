"""Console sign-in is throttled on failures — per username and address, per address and
per username — while the real user, signing in correctly, is never counted."""

import pytest
from django.test import Client

from tests.factories import CONSOLE_PASSWORD as PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def anna(make_client, console_user):
    make_client("Acme Charging")
    return console_user("anna", "Acme Charging", "operator")


def attempt(username: str, password: str, address: str = "198.51.100.1"):
    return Client().post(
        "/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_five_failures_from_one_address_refuse_the_sixth_with_429(anna, settings):
    for _ in range(5):
        assert attempt("anna", "wrong").status_code == 200
    refused = attempt("anna", PASSWORD)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert b"Too many failed sign-ins" in refused.content
    assert "_auth_user_id" not in refused.wsgi_request.session


def test_a_guesser_elsewhere_does_not_lock_out_the_real_user_at_first(anna):
    for _ in range(5):
        attempt("anna", "wrong", address="203.0.113.9")
    assert attempt("anna", PASSWORD, address="198.51.100.1").status_code == 302


def test_many_sources_trying_one_name_are_refused_for_that_name(anna, settings):
    settings.TELLUS_RATE_CONSOLE_LOGIN_FAILURES_PER_USER = (3, 300)
    for n in range(3):
        attempt("anna", "wrong", address=f"203.0.113.{n + 1}")
    assert attempt("anna", "wrong", address="203.0.113.99").status_code == 429
    assert attempt("bob", "wrong", address="203.0.113.99").status_code == 200


def test_one_source_trying_many_names_is_refused(anna, settings):
    settings.TELLUS_RATE_CONSOLE_LOGIN_FAILURES_PER_ADDRESS = (4, 900)
    for n in range(4):
        attempt(f"user{n}", "wrong")
    assert attempt("anna", PASSWORD).status_code == 429
    assert attempt("anna", PASSWORD, address="198.51.100.2").status_code == 302


def test_successful_sign_ins_are_not_counted(anna):
    for _ in range(8):
        assert attempt("anna", PASSWORD).status_code == 302


def test_usernames_differing_in_case_share_a_bucket(anna, settings):
    settings.TELLUS_RATE_CONSOLE_LOGIN_FAILURES_PER_USER = (2, 300)
    attempt("Anna", "wrong", address="203.0.113.1")
    attempt("ANNA", "wrong", address="203.0.113.2")
    assert attempt("anna", "wrong", address="203.0.113.3").status_code == 429


def test_sessions_expire_after_the_idle_time_and_are_renewed_by_use(anna, settings):
    browser = Client()
    assert browser.post("/login/", {"username": "anna", "password": PASSWORD}).status_code == 302
    assert settings.SESSION_SAVE_EVERY_REQUEST
    first = browser.cookies["sessionid"]["max-age"]
    assert first == settings.SESSION_COOKIE_AGE == 60 * 60
    assert browser.get("/").status_code == 200
    assert browser.cookies["sessionid"]["max-age"] == settings.SESSION_COOKIE_AGE
