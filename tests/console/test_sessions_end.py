"""Switching a user off ends every session they have (on every session store), so
switching them on again asks them to sign in; so does staff setting their password.
Pages and the live socket both refuse a session from before."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from console.web import live
from tests.factories import CONSOLE_PASSWORD as PASSWORD

User = get_user_model()

ENGINES = [
    "django.contrib.sessions.backends.db",
    "django.contrib.sessions.backends.cached_db",
    "django.contrib.sessions.backends.cache",
    "django.contrib.sessions.backends.signed_cookies",
]


@pytest.fixture
def people(make_client, console_user):
    make_client("Acme Charging")
    boss = console_user("boss", "Acme Charging", "admin")
    anna = console_user("anna", "Acme Charging", "viewer")
    return boss, anna


def signed_in_as(username: str, password: str = PASSWORD) -> Client:
    browser = Client()
    answer = browser.post("/login/", {"username": username, "password": password})
    assert answer.status_code == 302, answer.content
    assert browser.get("/").status_code == 200
    return browser


def signed_out(browser: Client) -> bool:
    answer = browser.get("/")
    return answer.status_code == 302 and answer["Location"].startswith("/login/")


@pytest.mark.django_db
@pytest.mark.parametrize("engine", ENGINES)
def test_a_session_from_before_a_switch_off_stays_dead_after_the_switch_on(
    people, settings, engine
):
    settings.SESSION_ENGINE = engine
    _, anna = people
    boss = signed_in_as("boss")
    hers = signed_in_as("anna")

    boss.post(f"/people/{anna.pk}/", {"access": "off"})
    boss.post(f"/people/{anna.pk}/", {"access": "on"})
    anna.refresh_from_db()
    assert anna.is_active

    assert signed_out(hers)
    assert signed_out(hers)  # and stays so
    assert not signed_out(boss)  # nobody else's session is touched
    assert not signed_out(signed_in_as("anna"))  # she signs in again as before


@pytest.mark.django_db
@pytest.mark.parametrize("engine", ENGINES[::2])
def test_switching_off_in_the_admin_or_a_shell_ends_the_sessions_too(people, settings, engine):
    settings.SESSION_ENGINE = engine
    _, anna = people
    hers = signed_in_as("anna")
    anna.is_active = False
    anna.save()  # as the admin's user page saves it: every field
    anna.is_active = True
    anna.save()
    assert signed_out(hers)


@pytest.mark.django_db
def test_a_save_that_leaves_access_alone_ends_nothing(people):
    _, anna = people
    hers = signed_in_as("anna")
    anna.first_name = "Anna"
    anna.save()
    anna.save(update_fields=["last_login"])
    assert not signed_out(hers)


@pytest.mark.django_db
@pytest.mark.parametrize("engine", ENGINES[::2])
def test_staff_setting_a_password_ends_the_users_sessions_but_not_their_own(
    people, settings, engine
):
    settings.SESSION_ENGINE = engine
    _, anna = people
    User.objects.create_superuser("lead", "", "staff-pass-123")
    staff = signed_in_as("lead", "staff-pass-123")
    hers = signed_in_as("anna")
    new = {"password1": "another-pass-456", "password2": "another-pass-456"}
    set_hers = staff.post(f"/admin/auth/user/{anna.pk}/password/", new)
    assert set_hers.status_code == 302
    assert signed_out(hers)

    lead = User.objects.get(username="lead")
    set_own = staff.post(f"/admin/auth/user/{lead.pk}/password/", new)
    assert set_own.status_code == 302
    assert not signed_out(staff)  # their own session goes on


# The live page's socket


def socket(cookie: str) -> WebsocketCommunicator:
    from console.asgi import application

    headers = [
        (b"host", b"testserver"),
        (b"origin", b"http://testserver"),
        (b"cookie", f"sessionid={cookie}".encode()),
    ]
    return WebsocketCommunicator(application, "/console/live?page=alerts", headers)


async def close_code(communicator: WebsocketCommunicator, seconds: float) -> int | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (remaining := deadline - loop.time()) > 0:
        try:
            message = await asyncio.wait_for(communicator.output_queue.get(), remaining)
        except TimeoutError:
            return None
        if message["type"] == "websocket.close":
            return message.get("code")
    return None


@pytest.mark.django_db(transaction=True)
async def test_an_open_live_page_closes_when_its_user_is_switched_off_and_on(people, monkeypatch):
    monkeypatch.setattr(live, "RECHECK_SECONDS", 1.0)
    _, anna = people
    hers = await sync_to_async(signed_in_as)("anna")
    cookie = hers.cookies["sessionid"].value
    watcher = socket(cookie)
    connected, _ = await watcher.connect()
    assert connected

    @sync_to_async
    def off_and_on() -> None:
        anna.is_active = False
        anna.save(update_fields=["is_active"])
        anna.is_active = True
        anna.save(update_fields=["is_active"])

    await off_and_on()  # both well within one recheck
    assert await close_code(watcher, 5) == 4401
    await watcher.disconnect()

    again = socket(cookie)  # the old cookie opens nothing now
    connected, code = await again.connect()
    assert (code if not connected else await close_code(again, 2)) == 4401
    await again.disconnect()


@pytest.mark.django_db
def test_a_request_whose_session_ends_while_it_runs_is_sent_to_sign_in(people, monkeypatch):
    from django.contrib.sessions.backends.db import SessionStore

    from console.web import access

    hers = signed_in_as("anna")
    key = hers.cookies["sessionid"].value
    looked_up = access.access_for

    def switched_off_meanwhile(request):
        found = looked_up(request)
        SessionStore(key).delete()  # as switching her off does, while the page is built
        return found

    monkeypatch.setattr(access, "access_for", switched_off_meanwhile)
    answer = hers.get("/alerts/")
    assert answer.status_code == 302  # not Django's bare 400
    assert answer["Location"] == "/login/?next=/alerts/"
    assert hers.cookies["sessionid"].value == ""
