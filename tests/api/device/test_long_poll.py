"""GET /v1/device/commands: the long poll."""

import asyncio
import time

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


@sync_to_async
def queue(device_id: str, command: str = "start_charging", connector_id: int | None = 1, **kw):
    return queue_command(
        Actor.platform(),
        Device.objects.get(device_id=device_id),
        command,
        {},
        connector_id=connector_id,
        **kw,
    )


@sync_to_async
def reload(command: Command) -> Command:
    return Command.objects.get(pk=command.pk)


async def test_a_pending_command_is_returned_at_once(charger):
    unit = await charger()
    queued = await queue(unit.device_id)
    started = time.monotonic()
    response = await unit.poll(connector_id=1, wait=30)
    assert time.monotonic() - started < 5
    data = response.json()["data"]
    assert data["command_id"] == queued.command_id
    assert data["command"] == "start_charging"
    assert data["params"] == {}
    stored = await reload(queued)
    assert stored.delivered_via == "long_poll"
    # It stays queued until the charger accepts (decision: queued-until-answer).
    assert stored.status == "queued"


async def test_one_command_per_answer_oldest_first(charger):
    unit = await charger()
    first, second = await queue(unit.device_id), await queue(unit.device_id, "stop_charging")
    assert (await unit.poll()).json()["data"]["command_id"] == first.command_id
    assert (await unit.poll()).json()["data"]["command_id"] == second.command_id
    assert (await unit.poll()).json()["data"] is None


async def test_timeout_answers_null(charger):
    unit = await charger()
    started = time.monotonic()
    response = await unit.poll(wait=1)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.json() == {"code": 0, "message": "success", "data": None}
    assert 0.9 <= elapsed < 5


async def test_a_command_queued_while_waiting_wakes_the_poll(charger):
    unit = await charger()
    poll = asyncio.create_task(unit.poll(connector_id=1, wait=20))
    await asyncio.sleep(0.5)
    assert not poll.done()
    queued_at = time.monotonic()
    queued = await queue(unit.device_id)
    response = await asyncio.wait_for(poll, 10)
    assert time.monotonic() - queued_at < 5
    assert response.json()["data"]["command_id"] == queued.command_id


async def test_commands_for_other_connectors_stay_queued(charger):
    unit = await charger()
    other = await queue(unit.device_id, connector_id=2)
    assert (await unit.poll(connector_id=1, wait=1)).json()["data"] is None
    assert (await unit.poll(connector_id=2, wait=1)).json()["data"][
        "command_id"
    ] == other.command_id


async def test_device_wide_commands_go_to_any_connector(charger):
    unit = await charger()
    upgrade = await queue(unit.device_id, "firmware_upgrade", connector_id=None)
    assert (await unit.poll(connector_id=2)).json()["data"]["command_id"] == upgrade.command_id


async def test_expired_commands_are_never_delivered(charger):
    unit = await charger()
    await queue(unit.device_id, expires_in=0)
    assert (await unit.poll(wait=1)).json()["data"] is None


async def test_concurrent_polls_never_get_the_same_command(charger):
    unit = await charger()
    queued = [await queue(unit.device_id) for _ in range(5)]
    answers = await asyncio.gather(*(unit.poll(wait=2) for _ in range(8)))
    delivered = [a.json()["data"]["command_id"] for a in answers if a.json()["data"]]
    assert sorted(delivered) == sorted(c.command_id for c in queued)


async def test_concurrent_waiting_polls_share_commands_queued_later(charger):
    unit = await charger()
    polls = [asyncio.create_task(unit.poll(wait=5)) for _ in range(4)]
    await asyncio.sleep(0.5)
    queued = [await queue(unit.device_id) for _ in range(2)]
    answers = await asyncio.gather(*polls)
    delivered = [a.json()["data"]["command_id"] for a in answers if a.json()["data"]]
    assert sorted(delivered) == sorted(c.command_id for c in queued)


async def test_a_command_is_delivered_once_across_poll_and_heartbeat(charger):
    unit = await charger()
    queued = await queue(unit.device_id)
    assert (await unit.poll()).json()["data"]["command_id"] == queued.command_id
    assert (await unit.heartbeat()).json()["data"]["commands"] == []


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        ({}, 1002, "connector_id"),
        ({"connector_id": 0}, 1001, "connector_id"),
        ({"connector_id": "one"}, 1001, "connector_id"),
        ({"connector_id": 1, "wait": 0}, 1001, "wait"),
        ({"connector_id": 1, "wait": 61}, 1001, "wait"),
        ({"connector_id": 1, "wait": "soon"}, 1001, "wait"),
    ],
)
async def test_bad_query_is_refused(charger, params, code, field):
    unit = await charger()
    response = await unit.http.get("/v1/device/commands", params=params, headers=unit.headers)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["details"]["field"] == field


async def test_a_device_sees_only_its_own_commands(charger):
    mine, theirs = await charger(), await charger()
    await queue(theirs.device_id)
    assert (await mine.poll(wait=1)).json()["data"] is None
