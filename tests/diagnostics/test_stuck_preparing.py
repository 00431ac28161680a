"""A connector left in `preparing` ten minutes after its plug-in, never charging since,
opens a stuck-preparing alert that suggests the stuck-preparing runbook."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from diagnostics.models import Alert
from diagnostics.services import detectors
from diagnostics.services.loader import load_faults, load_runbooks
from fleet.models import Connector, Device, DeviceEvent, TelemetrySample
from fleet.services import liveness

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def content():
    load_faults()
    load_runbooks()


@pytest.fixture
def connector(make_client, assigned_device):
    device = assigned_device(make_client("Acme Charging")[0], model="TP-AC22")
    online(device)
    return Connector.objects.create(device=device, connector_id=1, state="preparing")


def online(device) -> None:
    Device.objects.filter(pk=device.pk).update(
        status=Device.Status.ONLINE, last_heartbeat=timezone.now()
    )


def plugged_in(connector, minutes_ago: float) -> None:
    moment = timezone.now() - timedelta(minutes=minutes_ago)
    DeviceEvent.objects.create(
        device=connector.device, connector_id=1, event_type="plug_in", timestamp=moment, data={}
    )
    for offset in range(3):
        sample(connector, "preparing", moment + timedelta(minutes=offset))


def sample(connector, state: str, moment) -> None:
    TelemetrySample.objects.create(
        device=connector.device, connector_id=1, timestamp=moment, state=state,
        voltage=230, current=0, power=0, energy_delivered=0,
    )  # fmt: skip


def sweep():
    return detectors.run_detector(detectors.stuck_preparing, timezone.now())


def test_a_connector_preparing_for_a_quarter_hour_opens_an_alert_with_its_runbook(connector):
    plugged_in(connector, minutes_ago=15)
    assert sweep().opened == 1
    alert = Alert.objects.get()
    assert alert.detector == "stuck_preparing"
    assert alert.subject == f"{connector.device.device_id}#1"
    assert alert.fact_count == 3
    assert alert.suggested_runbook == "connector-stuck-preparing"
    assert sweep().opened == 0  # the same alert, not a second one


def test_a_fresh_plug_in_is_not_stuck_yet(connector):
    plugged_in(connector, minutes_ago=5)
    assert sweep().opened == 0


def test_a_connector_that_charged_since_its_plug_in_is_not_stuck(connector):
    plugged_in(connector, minutes_ago=15)
    sample(connector, "charging", timezone.now() - timedelta(minutes=8))
    assert sweep().opened == 0


def test_a_connector_no_longer_preparing_is_not_stuck(connector):
    plugged_in(connector, minutes_ago=15)
    Connector.objects.filter(pk=connector.pk).update(state="idle")
    assert sweep().opened == 0


def fall_silent(connector) -> None:
    """The charger's heartbeats stop and the platform's sweep marks it offline."""
    silent_since = timezone.now() - timedelta(seconds=settings.TELLUS_OFFLINE_AFTER_SECONDS + 1)
    Device.objects.filter(pk=connector.device_id).update(last_heartbeat=silent_since)
    assert liveness.mark_offline(timezone.now()) == [connector.device_id]


def test_a_charger_that_fell_silent_while_preparing_is_not_stuck(connector):
    plugged_in(connector, minutes_ago=15)
    fall_silent(connector)
    connector.refresh_from_db()
    assert connector.state == "preparing"  # its last report, kept as reported
    assert sweep().opened == 0


def test_a_stuck_alert_stays_open_when_its_charger_goes_offline(connector):
    plugged_in(connector, minutes_ago=15)
    sweep()
    fall_silent(connector)
    sample(connector, "preparing", timezone.now() - timedelta(seconds=30))  # a late upload
    result = sweep()
    assert (result.opened, result.refreshed) == (0, 0)
    alert = Alert.objects.get()
    assert (alert.status, alert.fact_count) == ("open", 3)

    online(connector.device)  # back, and still preparing: the same alert counts on
    assert sweep().refreshed == 1
    alert.refresh_from_db()
    assert (alert.status, alert.fact_count) == ("open", 4)
