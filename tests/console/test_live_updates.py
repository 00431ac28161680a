"""Console live updates: a page's socket hears only what the user may see, and pushes
re-rendered fragments of the page when the charger reports."""

import asyncio
import logging
import re
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.db import connections
from django.test import Client
from django.utils import timezone

from console.web import live
from console.web.live_pages import DEVICE_PAGE, Fragment
from console.web.models import OperatorMember
from diagnostics.models import Alert
from diagnostics.services import detectors
from fleet.actors import Actor
from fleet.live import messages
from fleet.live.publish import publish_device_message
from fleet.models import Command, Device
from fleet.services import control
from fleet.services.commands import queue_command, report_command_status
from fleet.services.events import record_event
from fleet.services.telemetry import record_telemetry_orm
from tests.diagnostics.test_alerts import fault

pytestmark = pytest.mark.django_db(transaction=True)


def reading(power: float) -> dict:
    return {
        "timestamp": timezone.now(),
        "connector_id": 1,
        "state": "charging",
        "voltage": 230.0,
        "current": 32.0,
        "power": power,
        "energy_delivered": 1.5,
        "soc": 40,
        "temperature": 30.0,
        "phase_details": None,
        "component_health": None,
    }


@pytest.fixture
def watched(device, console_user):
    """Acme's charger, reporting, and a session cookie for an Acme viewer."""
    record_telemetry_orm(device.device_id, reading(7.0), timezone.now())
    return Device.objects.get(pk=device.pk), cookie_of(console_user("watcher", "Acme Charging"))


def cookie_of(user) -> str:
    browser = Client()
    browser.force_login(user)
    return browser.cookies["sessionid"].value


def socket(query: str, cookie: str | None, origin: str = "http://testserver"):
    from console.asgi import application

    headers = [(b"host", b"testserver")]
    if origin:
        headers.append((b"origin", origin.encode()))
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    return WebsocketCommunicator(application, f"/console/live?{query}", headers=headers)


async def received(communicator: WebsocketCommunicator, seconds: float) -> list[dict]:
    """Every output of the socket within `seconds` (a close ends the wait)."""
    found = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (remaining := deadline - loop.time()) > 0:
        try:
            message = await asyncio.wait_for(communicator.output_queue.get(), remaining)
        except TimeoutError:
            break
        found.append(message)
        if message["type"] == "websocket.close":
            break
    return found


def texts(outputs: list[dict]) -> list[str]:
    return [m["text"] for m in outputs if m["type"] == "websocket.send"]


def close_code(outputs: list[dict]) -> int | None:
    closes = [m.get("code") for m in outputs if m["type"] == "websocket.close"]
    return closes[0] if closes else None


async def opened(communicator: WebsocketCommunicator) -> None:
    before = await subscribed_channels()
    connected, _ = await communicator.connect()
    assert connected
    # The consumer subscribes after accepting, and what is published before it has is not
    # heard: wait for its subscription to show in Redis (seconds on a loaded machine; a
    # group some other socket of the test already hears shows nothing new, hence the cap).
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 3
    while not (await subscribed_channels()) - before and loop.time() < deadline:
        await asyncio.sleep(0.05)
    assert await received(communicator, 0.3) == []


async def subscribed_channels() -> set[bytes]:
    """The channel layer's pub/sub channels with a subscriber, in this test's Redis."""
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    client = aioredis.Redis.from_url(settings.REDIS_URL)
    try:
        return set(await client.pubsub_channels(f"{prefix}*"))
    finally:
        await client.aclose()


async def test_a_telemetry_sample_pushes_the_connectors_and_chart_with_the_new_power(watched):
    device, cookie = watched
    watcher = socket(f"page=device&id={device.device_id}", cookie)
    await opened(watcher)
    sample = reading(21.5)
    await sync_to_async(record_telemetry_orm)(device.device_id, sample, timezone.now())
    await publish_device_message(
        device.device_id, messages.telemetry_sample(device.device_id, sample)
    )
    frames = texts(await received(watcher, 2))
    await watcher.disconnect()
    assert frames, "no fragment was pushed"
    html = "\n".join(frames)
    assert 'id="connectors"' in html and "21.5 kW" in html
    assert 'id="device-chart"' in html
    assert "<script" not in html


async def test_a_burst_of_samples_is_coalesced_into_a_few_renders(watched):
    device, cookie = watched
    watcher = socket(f"page=device&id={device.device_id}", cookie)
    await opened(watcher)
    for power in range(1, 41):
        sample = reading(float(power))
        await publish_device_message(
            device.device_id, messages.telemetry_sample(device.device_id, sample)
        )
    frames = texts(await received(watcher, 1.6))
    await watcher.disconnect()
    connector_frames = [f for f in frames if 'id="connectors"' in f]
    assert 1 <= len(connector_frames) <= 2


async def test_a_command_status_change_pushes_the_command_history(watched):
    device, cookie = watched
    watcher = socket(f"page=device&id={device.device_id}", cookie)
    await opened(watcher)

    @sync_to_async
    def accept_a_command() -> Command:
        acme_platform = Actor.platform(device.site.operator_id)
        command = queue_command(acme_platform, device, "start_charging", {})
        command.status = Command.Status.ACCEPTED
        command.save(update_fields=["status"])
        return command

    command = await accept_a_command()
    await publish_device_message(device.device_id, messages.command_status(command))
    html = "\n".join(texts(await received(watcher, 2)))
    await watcher.disconnect()
    assert 'id="device-commands"' in html and "start charging" in html and "accepted" in html


async def test_a_charger_moved_to_another_operator_closes_the_socket(watched):
    device, cookie = watched
    watcher = socket(f"page=device&id={device.device_id}", cookie)
    await opened(watcher)
    await publish_device_message(
        device.device_id, messages.device_reassigned(device.device_id, "op_someone_else")
    )
    outputs = await received(watcher, 2)
    await watcher.disconnect()
    assert close_code(outputs) == 4404


async def test_another_operators_charger_is_not_found(
    watched, make_client, site_for, assigned_device
):
    _, cookie = watched
    rival, _ = await sync_to_async(make_client)("Rival Energy")
    theirs = await sync_to_async(assigned_device)(rival, await sync_to_async(site_for)(rival))
    watcher = socket(f"page=device&id={theirs.device_id}", cookie)
    connected, _ = await watcher.connect()
    assert connected
    outputs = await received(watcher, 2)
    await watcher.disconnect()
    assert close_code(outputs) == 4404


@pytest.mark.parametrize(
    "query", ["page=device&id=%00x", "page=device&id=" + "a" * 200, "page=nope"]
)
async def test_a_malformed_subscription_is_not_found(watched, query):
    _, cookie = watched
    watcher = socket(query, cookie)
    connected, _ = await watcher.connect()
    assert connected
    outputs = await received(watcher, 2)
    await watcher.disconnect()
    assert close_code(outputs) == 4404


async def test_without_a_session_the_socket_closes_as_signed_out(watched):
    device, _ = watched
    watcher = socket(f"page=device&id={device.device_id}", None)
    connected, _ = await watcher.connect()
    assert connected
    outputs = await received(watcher, 2)
    await watcher.disconnect()
    assert close_code(outputs) == 4401


@pytest.mark.parametrize("origin", ["http://evil.example", ""])
async def test_a_page_of_another_site_cannot_open_the_socket(watched, origin):
    device, cookie = watched
    watcher = socket(f"page=device&id={device.device_id}", cookie, origin=origin)
    connected, _ = await watcher.connect()
    # The session was looked up in the shared sync thread before the refusal: close it.
    await sync_to_async(connections.close_all)()
    assert not connected


def test_the_page_names_its_socket_and_shows_the_live_status(watched, console_user):
    device, _ = watched
    browser = Client()
    browser.force_login(console_user("reader", "Acme Charging"))
    html = browser.get(f"/devices/{device.device_id}/").content.decode()
    assert f'data-live="/console/live?page=device&amp;id={device.device_id}"' in html
    assert 'id="live-status"' in html


async def test_the_site_page_hears_its_chargers_and_lets_go_of_one_that_leaves(watched):
    device, cookie = watched
    site_id = await sync_to_async(lambda: device.site_id)()
    watcher = socket(f"page=site&id={site_id}", cookie)
    await opened(watcher)
    sample = reading(33.3)
    await sync_to_async(record_telemetry_orm)(device.device_id, sample, timezone.now())
    await publish_device_message(
        device.device_id, messages.telemetry_sample(device.device_id, sample)
    )
    html = "\n".join(texts(await received(watcher, 3)))
    assert 'id="site-power"' in html and 'id="site-devices"' in html and "33.3" in html
    await publish_device_message(
        device.device_id, messages.device_reassigned(device.device_id, "op_someone_else")
    )
    outputs = await received(watcher, 3)
    await publish_device_message(
        device.device_id, messages.telemetry_sample(device.device_id, sample)
    )
    later = await received(watcher, 3)
    await watcher.disconnect()
    assert close_code(outputs) is None, "a site page stays open when one charger leaves"
    assert texts(later) == [], "the charger that left is no longer heard"


def repeated_fault(device: Device) -> None:
    """F-0411 three times on the charger and a detector sweep: a real repeat-fault alert
    opens (and is published once committed)."""
    for minutes in (30, 20, 10):
        fault(device, "F-0411", minutes)
    detectors.run_detector(detectors.repeat_fault, timezone.now())


async def test_a_newly_opened_alert_is_pushed_to_the_inbox_to_go_first(watched):
    device, cookie = watched
    watcher = socket("page=alerts&filters=", cookie)
    await opened(watcher)
    await sync_to_async(repeated_fault)(device)
    html = "\n".join(texts(await received(watcher, 3)))
    await watcher.disconnect()
    alert = await sync_to_async(Alert.objects.get)()
    assert 'data-live-insert="alert-items"' in html
    assert f'id="alert-{alert.alert_id}"' in html and "F-0411" in html


async def test_an_inbox_filtered_to_other_alerts_is_not_sent_this_one(watched):
    device, cookie = watched
    watcher = socket("page=alerts&filters=severity%3Dlow%26status%3Dall", cookie)
    await opened(watcher)
    await sync_to_async(repeated_fault)(device)
    frames = texts(await received(watcher, 2))
    await watcher.disconnect()
    assert frames == []


async def test_another_operators_alert_never_reaches_the_inbox(
    watched, make_client, site_for, assigned_device
):
    _, cookie = watched

    @sync_to_async
    def rival_charger() -> Device:
        rival, _ = make_client("Rival Energy")
        return assigned_device(rival, site_for(rival))

    theirs = await rival_charger()
    watcher = socket("page=alerts&filters=", cookie)
    await opened(watcher)
    await sync_to_async(repeated_fault)(theirs)
    frames = texts(await received(watcher, 2))
    await watcher.disconnect()
    assert frames == []


async def test_an_alert_opening_refreshes_the_fleet_pages_counts(watched):
    device, cookie = watched
    watcher = socket("page=fleet&filters=", cookie)
    await opened(watcher)
    await sync_to_async(repeated_fault)(device)
    html = "\n".join(texts(await received(watcher, 3)))
    await watcher.disconnect()
    assert 'id="fleet-summary"' in html and "F-0411" in html


@pytest.mark.parametrize("filters", ["q%3D%00", "x" * 1001])
async def test_a_malformed_filter_query_is_not_found(watched, filters):
    _, cookie = watched
    watcher = socket(f"page=fleet&filters={filters}", cookie)
    connected, _ = await watcher.connect()
    assert connected
    outputs = await received(watcher, 2)
    await watcher.disconnect()
    assert close_code(outputs) == 4404


CSRF_SECRET = "a" * 16 + "B" * 16  # the cookie's shape: 32 letters and digits


def engineer_socket(console_user, csrf_cookie: str):
    from console.asgi import application

    browser = Client()
    browser.force_login(console_user("erin", "Acme Charging", "engineer"))
    cookies = f"sessionid={browser.cookies['sessionid'].value}; csrftoken={csrf_cookie}"
    headers = [(b"host", b"testserver"), (b"origin", b"http://testserver"),
               (b"cookie", cookies.encode())]  # fmt: skip
    return browser, WebsocketCommunicator(application, "/console/live?page=alerts", headers)


async def test_a_pushed_alerts_forms_carry_a_csrf_token_that_posts(watched, console_user):
    """Without JavaScript's header a pushed item's form must still post: its token is a
    mask of the browser's own CSRF cookie."""
    device, _ = watched
    browser, watcher = await sync_to_async(engineer_socket)(console_user, CSRF_SECRET)
    await opened(watcher)
    await sync_to_async(repeated_fault)(device)
    html = "\n".join(texts(await received(watcher, 3)))
    await watcher.disconnect()
    tokens = set(re.findall(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"', html))
    assert len(tokens) == 1, html

    @sync_to_async
    def acknowledge() -> tuple[int, str]:
        strict = Client(enforce_csrf_checks=True)
        strict.cookies = browser.cookies
        strict.cookies["csrftoken"] = CSRF_SECRET
        alert = Alert.objects.get()
        response = strict.post(
            f"/alerts/{alert.alert_id}/acknowledge/",
            {"note": "on my way", "csrfmiddlewaretoken": tokens.pop()},
        )
        alert.refresh_from_db()
        return response.status_code, alert.status

    assert await acknowledge() == (302, "acknowledged")


@pytest.mark.parametrize("cookie", ["", "short", "x" * 31 + "!", "\x00" * 32])
async def test_a_missing_or_malformed_csrf_cookie_pushes_forms_without_a_token(
    watched, console_user, cookie
):
    device, _ = watched
    _, watcher = await sync_to_async(engineer_socket)(console_user, cookie)
    await opened(watcher)
    await sync_to_async(repeated_fault)(device)
    html = "\n".join(texts(await received(watcher, 3)))
    await watcher.disconnect()
    assert 'id="alert-' in html  # pushed all the same
    assert 'name="csrfmiddlewaretoken" value=""' in html or "csrfmiddlewaretoken" not in html


# --- Live means live: access rechecked on a timer, keep-alives, failures that reconnect ----


def sign_out(cookie: str) -> None:
    SessionStore(cookie).delete()


def deactivate(cookie: str) -> None:
    User.objects.filter(pk=SessionStore(cookie)["_auth_user_id"]).update(is_active=False)


def remove_from_operator(cookie: str) -> None:
    OperatorMember.objects.filter(user_id=SessionStore(cookie)["_auth_user_id"]).delete()


@pytest.mark.parametrize("lose_access", [sign_out, deactivate, remove_from_operator])
async def test_losing_access_closes_a_quiet_page_as_signed_out_within_the_recheck(
    watched, monkeypatch, lose_access
):
    """No message needs to arrive: the recheck runs on a timer of its own."""
    monkeypatch.setattr(live, "RECHECK_SECONDS", 0.5)
    device, cookie = watched
    watcher = socket(f"page=device&id={device.device_id}", cookie)
    await opened(watcher)
    await sync_to_async(lose_access)(cookie)
    outputs = await received(watcher, 3)
    assert close_code(outputs) == 4401
    # Nothing after the close, even when the charger reports.
    sample = reading(12.0)
    await publish_device_message(
        device.device_id, messages.telemetry_sample(device.device_id, sample)
    )
    assert await received(watcher, 1.5) == []
    await watcher.disconnect()


async def test_a_page_still_allowed_stays_open_and_updated_across_many_rechecks(
    watched, monkeypatch
):
    monkeypatch.setattr(live, "RECHECK_SECONDS", 0.3)
    device, cookie = watched
    watcher = socket(f"page=device&id={device.device_id}", cookie)
    await opened(watcher)
    await asyncio.sleep(2)  # six rechecks or so
    sample = reading(18.5)
    await sync_to_async(record_telemetry_orm)(device.device_id, sample, timezone.now())
    await publish_device_message(
        device.device_id, messages.telemetry_sample(device.device_id, sample)
    )
    outputs = await received(watcher, 2)
    await watcher.disconnect()
    assert close_code(outputs) is None
    assert "18.5 kW" in "\n".join(texts(outputs))


@pytest.mark.slow
async def test_a_quiet_page_receives_a_keep_alive_within_15_seconds(watched):
    device, cookie = watched
    watcher = socket(f"page=device&id={device.device_id}", cookie)
    await opened(watcher)
    outputs = await received(watcher, 15)
    await watcher.disconnect()
    assert live.KEEPALIVE in texts(outputs)
    assert close_code(outputs) is None


def broken(access, subject, keys) -> str:
    raise RuntimeError("the template broke")


@pytest.fixture
def logged() -> Iterator[list[logging.LogRecord]]:
    """What the live consumer logs (its own handler: Django's logging setup, on the first
    socket of a test run, would drop pytest's)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("console.web.live")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


async def test_a_failing_render_is_logged_and_closes_with_an_error_code(
    watched, monkeypatch, logged
):
    monkeypatch.setitem(DEVICE_PAGE.fragments, "connectors", Fragment(broken))
    device, cookie = watched
    watcher = socket(f"page=device&id={device.device_id}", cookie)
    await opened(watcher)
    sample = reading(9.0)
    await publish_device_message(
        device.device_id, messages.telemetry_sample(device.device_id, sample)
    )
    outputs = await received(watcher, 3)
    await watcher.disconnect()
    assert close_code(outputs) == live.FAILED
    (failure,) = logged
    assert "update loop failed" in failure.getMessage()
    assert "the template broke" in str(failure.exc_info[1])


async def test_a_failing_recheck_is_logged_and_closes_with_an_error_code(
    watched, monkeypatch, logged
):
    def unreachable(scope, access):
        raise ConnectionError("the session store is unreachable")

    monkeypatch.setattr(live, "RECHECK_SECONDS", 0.3)
    monkeypatch.setattr(live, "_current_access", unreachable)
    device, cookie = watched
    watcher = socket(f"page=device&id={device.device_id}", cookie)
    await opened(watcher)
    outputs = await received(watcher, 3)
    await watcher.disconnect()
    assert close_code(outputs) == live.FAILED
    (failure,) = logged
    assert "access recheck failed" in failure.getMessage()
    assert "the session store is unreachable" in str(failure.exc_info[1])


async def test_a_page_that_comes_back_is_sent_every_fragment_at_once(watched):
    device, cookie = watched
    watcher = socket(f"page=device&id={device.device_id}&resume=1", cookie)
    connected, _ = await watcher.connect()
    assert connected
    html = "\n".join(texts(await received(watcher, 2)))
    await watcher.disconnect()
    for fragment in ('id="device-status"', 'id="connectors"', 'id="device-chart"',
                     'id="device-events"', 'id="device-commands"'):  # fmt: skip
        assert fragment in html


# --- Events redraw what they change ---------------------------------------------------------


def section(html: str, marker: str) -> str:
    """The <section> of the page or frame that carries `marker`."""
    start = html.index(marker)
    return html[start : html.index("</section>", start)]


def event(device: Device, event_type: str, **data) -> None:
    """The charger reports an event on connector 1; the service publishes it once committed."""
    record_event(device.device_id, event_type, 1, timezone.now(), data)


async def test_a_stop_redraws_the_connector_idle_at_0_kw_and_the_header(watched):
    device, cookie = watched
    watcher = socket(f"page=device&id={device.device_id}", cookie)
    await opened(watcher)
    await sync_to_async(event)(device, "stop", reason="ev_full")
    html = "\n".join(texts(await received(watcher, 2)))
    await watcher.disconnect()
    connectors = section(html, 'id="connectors"')
    assert "state-idle" in connectors and "0.0 kW" in connectors and "7.0 kW" not in connectors
    assert "0.0 A" in connectors and "32.0 A" not in connectors
    assert 'id="device-status"' in html and 'id="device-events"' in html


async def test_a_fault_redraws_the_connector_in_fault(watched):
    device, cookie = watched
    watcher = socket(f"page=device&id={device.device_id}", cookie)
    await opened(watcher)
    await sync_to_async(event)(device, "fault", fault_code="F-0411")
    html = "\n".join(texts(await received(watcher, 2)))
    await watcher.disconnect()
    assert "state-fault" in section(html, 'id="connectors"')


async def test_a_stop_takes_the_connectors_power_out_of_the_sites_power_in_use(watched):
    device, cookie = watched
    site_id = await sync_to_async(lambda: device.site_id)()
    watcher = socket(f"page=site&id={site_id}", cookie)
    await opened(watcher)
    await sync_to_async(event)(device, "stop")
    html = "\n".join(texts(await received(watcher, 3)))
    await watcher.disconnect()
    power = section(html, 'id="site-power"')
    assert "<strong>0.0 kW</strong>" in power


async def test_a_queued_command_appears_in_the_command_list_without_a_reload(watched):
    device, cookie = watched
    watcher = socket(f"page=device&id={device.device_id}", cookie)
    await opened(watcher)

    @sync_to_async
    def stop_from_the_console() -> None:
        control.stop_charging(Actor.platform(device.site.operator_id), device.device_id, 1, {})

    await stop_from_the_console()  # published once committed, by the service itself
    html = "\n".join(texts(await received(watcher, 2)))
    await watcher.disconnect()
    commands = section(html, 'id="device-commands"')
    assert "stop charging" in commands and "cmd-queued" in commands


async def test_a_site_controls_progress_is_redrawn_as_its_chargers_answer(watched):
    device, cookie = watched
    site_id = await sync_to_async(lambda: device.site_id)()
    watcher = socket(f"page=site&id={site_id}", cookie)
    await opened(watcher)

    @sync_to_async
    def pause_the_site() -> Command:
        operator = Actor.platform(device.site.operator_id)
        params = {"duration": 600}
        _, (command,) = control.flexibility(operator, "site", [site_id], "pause_charging", params)
        return command

    command = await pause_the_site()
    sent = "\n".join(texts(await received(watcher, 3)))
    assert 'id="site-controls"' in sent and "1 queued, 0 accepted, 0 completed" in sent
    # Published once committed, by the service itself.
    await sync_to_async(report_command_status)(
        device.device_id, command.command_id, "completed", timezone.now()
    )
    html = "\n".join(texts(await received(watcher, 3)))
    await watcher.disconnect()
    assert 'id="site-controls"' in html and "0 queued, 0 accepted, 1 completed" in html


def test_an_idle_connector_draws_0_kw_on_the_charger_and_site_pages_after_a_reload(
    watched, console_user
):
    device, _ = watched
    record_event(device.device_id, "stop", 1, timezone.now(), {})
    browser = Client()
    browser.force_login(console_user("reader", "Acme Charging"))
    charger = browser.get(f"/devices/{device.device_id}/").content.decode()
    connectors = section(charger, 'id="connectors"')
    assert "0.0 kW" in connectors and "7.0 kW" not in connectors
    site = browser.get(f"/sites/{device.site_id}/").content.decode()
    assert "<strong>0.0 kW</strong>" in site
    assert "7.0 kW" not in site
