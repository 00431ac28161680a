"""Every form that checks a password shares one throttle (the console's sign-in, the
admin's sign-in, the admin's password change), and device cookies keep a known user's
own browser working while someone guesses their password from elsewhere (OWASP, "Slow
Down Online Guessing Attacks with Device Cookies")."""

import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.management import call_command
from django.test import Client

from console.web import signin
from fleet.models import AuditEntry
from tests.factories import CONSOLE_PASSWORD as PASSWORD

pytestmark = pytest.mark.django_db

STAFF_PASSWORD = "staff-pass-123"
ATTACKERS = [f"203.0.113.{n}" for n in range(1, 5)]


@pytest.fixture
def anna(make_client, console_user):
    make_client("Acme Charging")
    return console_user("anna", "Acme Charging", "operator")


@pytest.fixture
def lead(db):
    """Platform staff: signs in to the console and to the admin."""
    return get_user_model().objects.create_superuser("lead", "", STAFF_PASSWORD)


def console(username, password, address="198.51.100.1", browser=None):
    return (browser or Client()).post(
        "/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


def admin(username, password, address="198.51.100.1", browser=None):
    return (browser or Client()).post(
        "/admin/login/",
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
    )


def signed_in(response) -> bool:
    return response.status_code == 302 and "_auth_user_id" in response.wsgi_request.session


def attack(username: str, sign_in=console, per_address: int = 5) -> None:
    """Wrong passwords for `username` from several addresses, as in the live probe."""
    for address in ATTACKERS:
        for _ in range(per_address):
            sign_in(username, "wrong-guess", address)


def own_browser(username: str, password: str, sign_in=console) -> Client:
    """A browser its owner has signed in from once (so it holds a device cookie)."""
    browser = Client()
    assert signed_in(sign_in(username, password, "192.0.2.50", browser))
    browser.cookies.pop("sessionid", None)  # signed out again: only the cookie stays
    return browser


# One throttle for every password form


def test_the_admin_login_is_throttled(lead):
    for _ in range(5):
        assert admin("lead", "wrong").status_code == 200
    refused = admin("lead", STAFF_PASSWORD)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "Too many failed sign-ins" in refused.content.decode()
    assert not signed_in(refused)


def test_admin_failures_count_at_the_console_and_console_failures_at_the_admin(lead):
    for _ in range(3):
        admin("lead", "wrong")
    for _ in range(2):
        console("lead", "wrong")
    assert console("lead", STAFF_PASSWORD).status_code == 429
    assert admin("lead", STAFF_PASSWORD).status_code == 429
    # Another address is not held up by these five.
    assert signed_in(admin("lead", STAFF_PASSWORD, address="198.51.100.2"))


def test_an_attack_through_the_admin_login_locks_the_username_at_the_console(anna, settings):
    attack("anna", sign_in=admin)
    refused = console("anna", PASSWORD, address="198.51.100.77")
    assert refused.status_code == 429
    assert "browsers it has not signed in from before" in refused.content.decode()


def test_wrong_old_passwords_on_the_admin_password_change_count_too(lead):
    browser = Client()
    browser.force_login(lead)
    for _ in range(5):
        answer = browser.post(
            "/admin/password_change/",
            {"old_password": "wrong", "new_password1": "x-new-pass-9", "new_password2": "x"},
            REMOTE_ADDR="198.51.100.1",
        )
        assert answer.status_code == 200
    refused = browser.post(
        "/admin/password_change/",
        {
            "old_password": STAFF_PASSWORD,
            "new_password1": "a-new-pass-987",
            "new_password2": "a-new-pass-987",
        },
        REMOTE_ADDR="198.51.100.1",
    )
    assert refused.status_code == 429
    lead.refresh_from_db()
    assert lead.check_password(STAFF_PASSWORD)
    assert console("lead", STAFF_PASSWORD).status_code == 429  # the same buckets


def test_the_admin_password_change_still_changes_a_password(lead):
    browser = Client()
    browser.force_login(lead)
    changed = browser.post(
        "/admin/password_change/",
        {
            "old_password": STAFF_PASSWORD,
            "new_password1": "a-new-pass-987",
            "new_password2": "a-new-pass-987",
        },
    )
    assert changed.status_code == 302
    assert changed["Location"] == "/admin/password_change/done/"
    lead.refresh_from_db()
    assert lead.check_password("a-new-pass-987")


# Device cookies


def test_a_sign_in_gives_the_browser_a_long_lived_httponly_lax_device_cookie(anna, settings):
    browser = Client()
    assert signed_in(console("anna", PASSWORD, browser=browser))
    cookie = browser.cookies[signin.DEVICE_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == settings.TELLUS_DEVICE_COOKIE_DAYS * 86400 >= 365 * 86400
    assert not cookie["secure"]  # the tests' site is plain http
    assert "anna" not in cookie.value.split(":")[-1]  # signed, not a bare name

    settings.SESSION_COOKIE_SECURE = True
    again = Client()
    assert signed_in(console("anna", PASSWORD, browser=again))
    assert again.cookies[signin.DEVICE_COOKIE]["secure"]


def test_a_failed_sign_in_gives_no_device_cookie(anna):
    browser = Client()
    console("anna", "wrong", browser=browser)
    assert signin.DEVICE_COOKIE not in browser.cookies


def test_the_owners_browser_signs_in_during_an_attack_from_several_addresses(anna):
    browser = own_browser("anna", PASSWORD)
    attack("anna")  # 20 failures from 4 addresses: the username is locked
    without = console("anna", PASSWORD, address="198.51.100.77")
    assert without.status_code == 429
    assert int(without["Retry-After"]) > 0
    assert "Try again in about" in without.content.decode()
    # Her own browser, from an address it never used, gets in, again and again.
    for n in range(3):
        assert signed_in(console("anna", PASSWORD, f"198.51.100.{80 + n}", browser))


def test_the_admin_login_honours_the_device_cookie_too(lead):
    browser = own_browser("lead", STAFF_PASSWORD, sign_in=admin)
    attack("lead", sign_in=console)
    assert admin("lead", STAFF_PASSWORD, address="198.51.100.77").status_code == 429
    assert signed_in(admin("lead", STAFF_PASSWORD, "198.51.100.78", browser))


def _with_cookie(value: str) -> Client:
    browser = Client()
    browser.cookies[signin.DEVICE_COOKIE] = value
    return browser


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda: signin.device_cookie_for("bob"), id="another-users-cookie"),
        pytest.param(
            lambda: signing.TimestampSigner(
                key="not-the-server-key", salt="tellus.console.device-cookie"
            ).sign_object({"u": "anna", "n": "x" * 24}),
            id="right-format-wrong-key",
        ),
        pytest.param(
            lambda: signing.TimestampSigner().sign_object({"u": "anna", "n": "x" * 24}),
            id="server-key-other-purpose",
        ),
        pytest.param(lambda: signin.device_cookie_for("anna").replace(":", "x:", 1), id="tampered"),
        pytest.param(lambda: "anna", id="bare-name"),
        pytest.param(lambda: "\x00" * 600, id="garbage"),
    ],
)
def test_a_forged_or_foreign_device_cookie_exempts_nothing(anna, forge):
    attack("anna")
    refused = console("anna", PASSWORD, "198.51.100.77", _with_cookie(forge()))
    assert refused.status_code == 429


def test_an_expired_device_cookie_exempts_nothing(anna, settings, monkeypatch):
    attack("anna")
    settings.TELLUS_DEVICE_COOKIE_DAYS = 1
    real = signing.time.time
    monkeypatch.setattr(signing.time, "time", lambda: real() - 2 * 86400)
    stale = signin.device_cookie_for("anna")  # issued two days ago
    monkeypatch.undo()
    assert console("anna", PASSWORD, "198.51.100.77", _with_cookie(stale)).status_code == 429


def test_a_device_cookie_that_keeps_failing_is_locked_out_on_its_own(anna):
    browser = own_browser("anna", PASSWORD)
    attack("anna")
    # Someone with her cookie (a stolen laptop) guessing from several addresses.
    for n in range(5):
        assert console("anna", "wrong", f"198.51.100.{90 + n}", browser).status_code == 200
    refused = console("anna", PASSWORD, "198.51.100.99", browser)
    assert refused.status_code == 429  # the cookie no longer exempts: the username is locked


def test_failures_with_a_device_cookie_do_not_lock_the_username(anna, settings):
    settings.TELLUS_RATE_CONSOLE_LOGIN_FAILURES_PER_USER = (3, 300)
    browser = own_browser("anna", PASSWORD)
    for n in range(3):  # her own typos, from her browser
        console("anna", "wrong", f"198.51.100.{10 + n}", browser)
    assert signed_in(console("anna", PASSWORD, "198.51.100.20"))  # another browser too


def test_the_per_address_limits_bind_browsers_with_a_device_cookie_too(anna):
    browser = own_browser("anna", PASSWORD)
    for _ in range(5):
        console("anna", "wrong", "198.51.100.5", browser)
    assert console("anna", PASSWORD, "198.51.100.5", browser).status_code == 429


def test_staff_unlock_a_username_and_the_unlock_is_audited(anna):
    attack("anna")
    assert console("anna", PASSWORD, "198.51.100.77").status_code == 429
    out = StringIO()
    call_command("unlock_sign_in", "Anna", stdout=out)
    assert json.loads(out.getvalue()) == {"unlocked": "anna", "address": None}
    assert signed_in(console("anna", PASSWORD, "198.51.100.78"))
    entry = AuditEntry.objects.get(action="unlock_sign_in")
    assert entry.resource_id == str(anna.pk) and entry.actor.startswith("cli")


def test_staff_unlock_an_address(anna):
    for _ in range(5):
        console("anna", "wrong", "198.51.100.5")
    assert console("anna", PASSWORD, "198.51.100.5").status_code == 429
    call_command("unlock_sign_in", "anna", "--address", "198.51.100.5", stdout=StringIO())
    assert signed_in(console("anna", PASSWORD, "198.51.100.5"))
