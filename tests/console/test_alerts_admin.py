"""The admin is branded and shows alerts, read-only, with their history."""

import pytest
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from django.utils import timezone

from diagnostics.models import Alert
from diagnostics.services import detectors
from fleet.models import DeviceEvent
from tests.diagnostics.test_alerts import fault

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    get_user_model().objects.create_superuser("root", "", "pw-for-tests-1")
    client.login(username="root", password="pw-for-tests-1")
    return client


@pytest.fixture
def alert(make_client, assigned_device) -> Alert:
    device = assigned_device(make_client("Acme Charging")[0], model="TP-DC180")
    for minutes in (1, 2, 3):
        fault(device, "F-0421", minutes_ago=minutes)
    detectors.run_detector(detectors.repeat_fault, timezone.now())
    assert DeviceEvent.objects.count() == 3
    return Alert.objects.get()


def test_the_admin_says_whose_it_is(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert "Tellus platform administration" in page
    assert "Alerts" in page


def test_alerts_are_listed_and_shown_but_not_edited(admin_client, alert):
    listing = admin_client.get("/admin/diagnostics/alert/")
    assert listing.status_code == 200
    assert alert.alert_id in listing.content.decode()
    detail = admin_client.get(f"/admin/diagnostics/alert/{quote(alert.alert_id)}/change/")
    assert detail.status_code == 200
    assert 'type="submit" value="Save"' not in detail.content.decode()
    assert admin_client.get("/admin/diagnostics/alert/add/").status_code == 403
