"""The outbox of pushes to a peer's legacy callback: what gets written, and how delivery
retries, orders and gives up."""

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from fleet.actors import Actor
from fleet.models import Connector, Device, LegacyOrder, LegacyPush
from fleet.services import legacy, lifecycle
from fleet.services.commands import report_command_status
from fleet.services.events import record_event
from fleet.services.provisioning import create_operator_client

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_celery(monkeypatch):
    """Unit level: the outbox rows matter, not the dispatch."""
    monkeypatch.setattr("fleet.tasks.deliver_legacy_push.delay", lambda *a, **k: None)


@pytest.fixture
def peer():
    client, _ = create_operator_client(
        Actor.platform(),
        "Acme Charging",
        ["read", "write"],
        legacy_callback_url="http://peer.test/v1",
    )
    return client


@pytest.fixture
def station(peer, site_for, assigned_device):
    device = assigned_device(peer, site_for(peer, "Depot"))
    Device.objects.filter(pk=device.pk).update(status="online")
    Connector.objects.create(device=device, connector_id=1, state="idle", power=7.0, voltage=230,
                             current=30, energy_delivered=2.5, soc=40)  # fmt: skip
    return device


def order(peer, station, order_id="ORD-1") -> LegacyOrder:
    return legacy.start_order(
        Actor.for_client(peer), peer, "charge", order_id, station.device_id, 1, {}
    )


def work_statuses() -> list[str]:
    return [p.payload["Status"] for p in LegacyPush.objects.filter(kind="notify_work_status")]


def test_order_lifecycle_writes_work_status_pushes(peer, station):
    placed = order(peer, station)
    now = timezone.now()
    report_command_status(station.device_id, placed.start_command_id, "accepted", now)
    assert work_statuses() == ["CHARGING"]
    push = LegacyPush.objects.get()
    assert push.url == "http://peer.test/v1/customer/notify_work_status"
    assert push.method == "POST"
    assert push.payload["OrderId"] == "ORD-1"
    assert push.payload["DeviceVendorOrderId"] == placed.vendor_order_id
    assert push.payload["Meter"] == {"Power": 7.0, "Voltage": 230.0, "Current": 30.0,
                                     "WorkValue": 2500.0, "Energy": 2.5, "Soc": 40}  # fmt: skip
    record_event(station.device_id, "stop", 1, now, {"reason": "ev_full"})
    assert work_statuses() == ["CHARGING", "COMPLETED"]
    placed.refresh_from_db()
    assert placed.status == "COMPLETED"


def test_a_start_that_fails_pushes_start_failed(peer, station):
    placed = order(peer, station)
    report_command_status(
        station.device_id, placed.start_command_id, "rejected", timezone.now(), "busy"
    )
    assert work_statuses() == ["START_FAILED"]


def test_an_expired_start_pushes_start_failed(peer, station):
    placed = order(peer, station)
    placed.start_command.__class__.objects.filter(pk=placed.start_command_id).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    lifecycle.expire_undelivered(timezone.now())
    assert work_statuses() == ["START_FAILED"]


def test_station_status_changes_are_pushed_once(peer, station):
    assert legacy.sync_station_statuses() == 1
    assert legacy.sync_station_statuses() == 0  # unchanged
    Connector.objects.filter(device=station).update(state="charging")
    assert legacy.sync_station_statuses() == 1
    pushes = LegacyPush.objects.filter(kind="notification_stationStatus")
    assert [p.payload["Connectors"][0]["Status"] for p in pushes] == ["Available", "Working"]
    assert pushes[0].method == "PUT"


class Answer:
    def __init__(self, status_code=200, body=None):
        self.status_code, self._body, self.text = status_code, body or {"Status": "Accept"}, ""

    def json(self):
        return self._body


def test_failures_retry_on_the_schedule_then_die(peer, station, settings):
    settings.TELLUS_LEGACY_RETRY_SCHEDULE = [60, 300]
    order(peer, station)
    report_command_status(
        station.device_id, LegacyOrder.objects.get().start_command_id, "accepted", timezone.now()
    )
    push = LegacyPush.objects.get()
    failing = mock.Mock(return_value=Answer(500))
    assert legacy.deliver_push(push.pk, post=failing) == "retry"
    push.refresh_from_db()
    first_wait = (push.next_attempt_at - push.attempt_log.last().at).total_seconds()
    assert first_wait == 60
    assert legacy.deliver_push(push.pk, post=failing) == "skipped"  # not due yet
    LegacyPush.objects.filter(pk=push.pk).update(next_attempt_at=timezone.now())
    rejecting = mock.Mock(return_value=Answer(200, {"Status": "Reject"}))
    assert legacy.deliver_push(push.pk, post=rejecting) == "retry"
    push.refresh_from_db()
    assert (push.next_attempt_at - push.attempt_log.last().at).total_seconds() == 300
    LegacyPush.objects.filter(pk=push.pk).update(next_attempt_at=timezone.now())
    assert legacy.deliver_push(push.pk, post=failing) == "dead"
    push.refresh_from_db()
    assert push.status == "dead"
    assert [a.outcome for a in push.attempt_log.all()] == ["http_error", "rejected", "http_error"]
    legacy.retry_dead_push(push.pk)
    assert legacy.deliver_push(push.pk, post=mock.Mock(return_value=Answer())) == "delivered"


def test_pushes_for_one_order_go_in_order(peer, station):
    placed = order(peer, station)
    report_command_status(station.device_id, placed.start_command_id, "accepted", timezone.now())
    record_event(station.device_id, "stop", 1, timezone.now(), {})
    first, second = LegacyPush.objects.order_by("id")
    ok = mock.Mock(return_value=Answer())
    assert legacy.deliver_push(second.pk, post=ok) == "skipped"  # waits for the first
    assert legacy.deliver_push(first.pk, post=ok) == "delivered"
    assert legacy.deliver_push(second.pk, post=ok) == "delivered"
    assert [
        c.args[2] if len(c.args) > 2 else c.kwargs["json"]["Status"] for c in ok.call_args_list
    ] == ["CHARGING", "COMPLETED"]


def test_connection_errors_count_as_failures(peer, station):
    import httpx

    legacy.sync_station_statuses()
    push = LegacyPush.objects.get()
    broken = mock.Mock(side_effect=httpx.ConnectError("refused"))
    assert legacy.deliver_push(push.pk, post=broken) == "retry"
    assert push.attempt_log.get().outcome == "error"


def test_every_attempt_of_a_push_carries_the_same_idempotency_key(peer, station, settings):
    settings.TELLUS_LEGACY_RETRY_SCHEDULE = [60]
    order(peer, station)
    report_command_status(
        station.device_id, LegacyOrder.objects.get().start_command_id, "accepted", timezone.now()
    )
    push = LegacyPush.objects.get()
    failing, ok = mock.Mock(return_value=Answer(500)), mock.Mock(return_value=Answer())
    legacy.deliver_push(push.pk, post=failing)
    LegacyPush.objects.filter(pk=push.pk).update(next_attempt_at=timezone.now())
    legacy.deliver_push(push.pk, post=ok)

    sent = [failing.call_args.kwargs, ok.call_args.kwargs]
    keys = {call["headers"]["Idempotency-Key"] for call in sent}
    assert keys == {call["json"]["PushId"] for call in sent} == {f"tellus-push-{push.pk}"}
    assert {k: v for k, v in sent[1]["json"].items() if k != "PushId"} == push.payload
