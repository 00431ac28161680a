"""Regression (found by fuzzing): whatever a client sends on the telemetry stream is
ignored. The consumer decoded every text frame as JSON first, so invalid JSON, JSON
nested too deep for the decoder, or a binary frame raised inside the application: the
connection dropped with an "Exception in ASGI application" instead of carrying on.
"""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from fleet.actors import Actor
from fleet.services.provisioning import assign_device

pytestmark = pytest.mark.django_db(transaction=True)

JUNK = [
    {"text": "{"},
    {"text": "not json at all"},
    {"text": "NaN"},
    {"text": "[" * 100_000},
    {"text": json.dumps({"subscribe": ["dvc_x"]})},
    {"bytes": b"\x00\xff\xfe"},
]


@pytest.mark.parametrize("frame", JUNK, ids=lambda f: repr(next(iter(f.values())))[:20])
async def test_client_frames_are_ignored_and_the_stream_goes_on(
    http, charger, make_client, operator_token, site_for, frame
):
    from console.asgi import application

    client, secret = await sync_to_async(make_client)("Acme Charging", ["read"])
    token = await sync_to_async(operator_token)(client, secret)
    site = await sync_to_async(site_for)(client)
    unit = await charger()
    await sync_to_async(assign_device)(Actor.platform(), unit.device_id, site.site_id)

    communicator = WebsocketCommunicator(
        application,
        f"/v1/operator/stream?devices={unit.device_id}",
        headers=[(b"authorization", f"Bearer {token}".encode())],
    )
    connected, _ = await communicator.connect()
    assert connected
    first = await communicator.receive_json_from(timeout=5)
    assert first["device_id"] == unit.device_id

    await communicator.send_input({"type": "websocket.receive", **frame})
    # The stream carries on: fresh telemetry still gives a prompt frame.
    await unit.telemetry()
    message = await asyncio.wait_for(communicator.output_queue.get(), 5)
    assert message["type"] == "websocket.send", message
    assert json.loads(message["text"])["device_id"] == unit.device_id
    await communicator.disconnect()
