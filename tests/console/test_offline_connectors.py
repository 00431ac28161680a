"""A charger that fell silent has no live connector state: its pages show its connectors as
unavailable, with what each last reported, until it is heard from again (the platform sets
`unavailable` when a device is offline, decision: offline-connectors). What the charger
reported stays stored as reported."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from console.web.live_pages import DEVICE_PAGE
from fleet.models import Connector, ConnectorState, Device
from fleet.services import liveness

pytestmark = pytest.mark.django_db

ACME = "Acme Charging"


@pytest.fixture
def preparing(make_client, site_for, assigned_device):
    """An online charger at Acme's depot with connector 1 in preparing."""
    acme, _ = make_client(ACME)
    device = assigned_device(acme, site_for(acme, "Acme Depot"), model="TP-AC22")
    Device.objects.filter(pk=device.pk).update(status="online", last_heartbeat=timezone.now())
    Connector.objects.create(device=device, connector_id=1, state=ConnectorState.PREPARING)
    return Device.objects.get(pk=device.pk)


def fall_silent(device: Device) -> None:
    silent_since = timezone.now() - timedelta(seconds=settings.TELLUS_OFFLINE_AFTER_SECONDS + 1)
    Device.objects.filter(pk=device.pk).update(last_heartbeat=silent_since)
    assert liveness.mark_offline(timezone.now()) == [device.device_id]


def connectors_of(browser: Client, device: Device) -> str:
    html = browser.get(f"/devices/{device.device_id}/").content.decode()
    start = html.index('id="connectors"')
    return html[start : html.index("</section>", start)]


def test_a_silent_charger_s_connector_shows_unavailable_with_its_last_report_until_heard_from(
    preparing, signed_in
):
    fall_silent(preparing)
    shown = connectors_of(signed_in(ACME), preparing)
    assert '<span class="badge state-unavailable">unavailable</span>' in shown
    assert "charger offline; last reported preparing" in shown
    assert "state-preparing" not in shown
    assert Connector.objects.get(device=preparing).state == "preparing"  # stored as reported

    # Heard from again: its last report is live again.
    Device.objects.filter(pk=preparing.pk).update(status="online", last_heartbeat=timezone.now())
    shown = connectors_of(signed_in(ACME, username="back"), preparing)
    assert '<span class="badge state-preparing">preparing</span>' in shown
    assert "last reported" not in shown


def test_the_site_page_shows_a_silent_charger_s_connectors_unavailable(preparing, signed_in):
    fall_silent(preparing)
    html = signed_in(ACME).get(f"/sites/{preparing.site_id}/").content.decode()
    assert "(offline; last reported preparing)" in html
    assert '<span class="badge state-preparing">preparing</span>' not in html


def test_the_live_device_page_redraws_its_connectors_when_the_charger_goes_offline():
    assert "connectors" in DEVICE_PAGE.triggers["device.status"]
