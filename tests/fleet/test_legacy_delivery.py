"""Legacy pushes delivered by a real Celery worker to a local stand-in for the peer
platform, with the retry schedule scaled down to seconds."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from fleet.actors import Actor
from fleet.models import Connector, Device, LegacyPush, LegacyPushAttempt
from fleet.services.provisioning import create_operator_client
from tests.celery_worker import WorkerProcess, eventually, worker_database_url

pytestmark = pytest.mark.django_db(transaction=True)


class Peer:
    """Records every push; answers from a script of status codes, then 200 Accept."""

    def __init__(self):
        self.received: list[tuple[float, str, str, dict]] = []
        self.script: list[int] = []
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                peer.received.append((time.time(), self.command, self.path, body))
                status = peer.script.pop(0) if peer.script else 200
                payload = json.dumps({"Status": "Accept" if status == 200 else "Reject"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_PUT = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def peer():
    stand_in = Peer()
    yield stand_in
    stand_in.close()


@pytest.fixture
def worker_factory(django_db_blocker, tmp_path):
    workers = []

    def make(schedule: str) -> WorkerProcess:
        with django_db_blocker.unblock():
            url = worker_database_url()
        worker = WorkerProcess(
            tmp_path,
            url,
            {"TELLUS_SWEEP_INTERVAL_SECONDS": "1", "TELLUS_LEGACY_RETRY_SCHEDULE": schedule},
        )
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.stop()


@pytest.fixture
def station(peer, site_for, assigned_device):
    client, _ = create_operator_client(
        Actor.platform(), "Acme Charging", ["read", "write"], legacy_callback_url=peer.url
    )
    device = assigned_device(client, site_for(client, "Depot"))
    Device.objects.filter(pk=device.pk).update(status="online")
    Connector.objects.create(device=device, connector_id=1, state="idle")
    return device


def attempts(push: LegacyPush) -> list[tuple[float, str]]:
    return [(a.at.timestamp(), a.outcome) for a in push.attempt_log.all()]


def test_a_push_that_fails_twice_succeeds_on_the_third_attempt(peer, worker_factory, station):
    peer.script = [500, 500]
    worker_factory("2,3,60,60,60").start()
    assert eventually(lambda: LegacyPush.objects.filter(status="delivered").exists(), 30)
    push = LegacyPush.objects.get()
    assert push.kind == "notification_stationStatus"
    assert [m for _, m, _, _ in peer.received] == ["PUT", "PUT", "PUT"]
    assert peer.received[0][2] == "/v1/customer/notification_stationStatus"
    assert peer.received[0][3]["ChargeBoxId"] == station.device_id
    times = [t for t, _ in attempts(push)]
    assert [o for _, o in attempts(push)] == ["http_error", "http_error", "accepted"]
    # Retries follow the schedule: not before it, and promptly after it.
    assert 2 <= times[1] - times[0] < 3.5
    assert 3 <= times[2] - times[1] < 4.5


def test_a_killed_worker_does_not_lose_a_due_push(peer, worker_factory, station):
    peer.script = [500]
    worker = worker_factory("4")
    worker.start()
    assert eventually(lambda: len(peer.received) == 1, 30)
    worker.kill()
    worker.start()
    assert eventually(lambda: LegacyPush.objects.filter(status="delivered").exists(), 30)
    # The retry is due 4 s after the first attempt began: its logged time, which a loaded
    # machine can put well before the peer saw the request. A worker killed between
    # sending and logging leaves no row for it; then the peer's time bounds the start
    # from above, less the request's way to the peer (one second at most).
    logged = list(LegacyPushAttempt.objects.order_by("at").values_list("at", flat=True))
    if len(logged) == 2:
        first_attempt = logged[0].timestamp()
    else:
        first_attempt = peer.received[0][0] - 1
    second_attempt = peer.received[1][0]
    assert second_attempt - first_attempt >= 4  # never early
    assert second_attempt - first_attempt < 4 + 10  # and delivered once the worker is back
    assert len(peer.received) == 2


def test_a_push_dies_after_the_last_retry(peer, worker_factory, station):
    peer.script = [500, 500, 500, 500]
    worker_factory("1,1").start()
    assert eventually(lambda: LegacyPush.objects.filter(status="dead").exists(), 30)
    push = LegacyPush.objects.get()
    assert push.attempts == 3
    time.sleep(2.5)
    assert len(peer.received) == 3  # nothing after death
    assert timezone.now() >= push.next_attempt_at
