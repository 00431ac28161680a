"""`simulate_fleet --provision` beside our own server: it places the chargers on the
operator's sites and plays the operator's half of the scenarios that need one."""

from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command

from fleet.models import ApiClient, Command, Device, DeviceEvent
from tests.live_server import LiveServer, serving

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(tmp_path) -> Iterator[LiveServer]:
    with serving(tmp_path / "server.log") as live:
        yield live


def test_provisioned_v2g_refusals_are_asked_for_discharges(server, tmp_path):
    err = StringIO()
    call_command(
        "simulate_fleet",
        base_url=server.url,
        chargers=2,
        scenario=["v2g-refused"],
        seed=3,
        speed=100,
        duration=20,
        provision=True,
        operator="Provisioned Demo",
        state_file=tmp_path / "fleet.json",
        stdout=StringIO(),
        stderr=err,
    )
    client = ApiClient.objects.get(operator__name="Provisioned Demo")
    assert client.client_id in err.getvalue()  # the announcement names the client
    assert Device.objects.filter(site__operator=client.operator).count() == 2
    refusing = Device.objects.get(model="TP-DC360", site__operator=client.operator)
    asked = Command.objects.filter(device=refusing, command="discharge")
    assert asked.exists()
    assert {c.issued_by_client_id for c in asked} == {client.client_id}
    assert asked.filter(status="failed").exists()
    assert DeviceEvent.objects.filter(device=refusing, fault_code="F-0702").exists()
