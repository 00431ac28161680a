"""Regression (found by fuzzing): a command whose params hold a large number broke the
charger fast path, and the command was lost.

PostgreSQL's jsonb keeps numbers as `numeric` and writes 1e308 back as 309 digits, which
Python reads as an integer that orjson cannot encode ("Integer exceeds 64-bit range").
The heartbeat (or long poll) had already claimed the command when its answer failed
with a 500, so the charger never received it. Every transport must hand it over.
"""

import pytest
from asgiref.sync import sync_to_async

from fleet.actors import Actor
from fleet.models import Command, Device
from fleet.services.commands import queue_command
from tests.conftest import TRANSPORTS

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.parametrize("http", TRANSPORTS, indirect=True),
]

PARAMS = {"sensor": "temperature", "reference": 1e308, "readings": [2.5e300, -1e200, 2**70]}


async def queued(unit) -> Command:
    device = await sync_to_async(Device.objects.get)(device_id=unit.device_id)
    return await sync_to_async(queue_command)(Actor.platform(), device, "calibrate_sensor", PARAMS)


def assert_same_numbers(params: dict) -> None:
    assert params["sensor"] == "temperature"
    assert float(params["reference"]) == 1e308
    assert [float(n) for n in params["readings"]] == [2.5e300, -1e200, float(2**70)]


async def test_the_heartbeat_hands_over_a_command_with_huge_numbers(charger):
    unit = await charger()
    command = await queued(unit)
    response = await unit.heartbeat()
    assert response.status_code == 200, response.text
    (handed,) = response.json()["data"]["commands"]
    assert handed["command_id"] == command.command_id
    assert_same_numbers(handed["params"])


async def test_the_long_poll_hands_over_a_command_with_huge_numbers(charger):
    unit = await charger()
    command = await queued(unit)
    response = await unit.poll(wait=1)
    assert response.status_code == 200, response.text
    handed = response.json()["data"]
    assert handed["command_id"] == command.command_id
    assert_same_numbers(handed["params"])
