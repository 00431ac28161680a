"""A database restart costs no requests once the database is back.

A live server warms its connection pool, then PostgreSQL terminates every backend the
server holds (what a restart or a failover does to an idle pool). The requests that follow
must all succeed: the pool checks a connection before handing it out and replaces dead
ones, instead of letting each dead connection fail one request whenever it is next used.
"""

from collections.abc import Iterator

import httpx
import pytest
from django.db import connection

from fleet.actors import Actor
from fleet.services import provisioning
from tests.live_server import APPLICATION_NAME, LiveServer, serving

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(tmp_path) -> Iterator[LiveServer]:
    with serving(tmp_path / "server.log") as live:
        yield live


def terminate_server_backends() -> int:
    """What a database restart does to the server's pool: every session it holds is
    killed (this process's own sessions are left alone: they are not under test)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = %s",
            [APPLICATION_NAME],
        )
        return cursor.fetchone()[0]


def test_requests_after_the_database_killed_every_pooled_connection_all_succeed(server):
    client, secret = provisioning.create_operator_client("Acme", ["read"], actor=Actor.platform())
    body = {
        "client_id": client.client_id,
        "client_secret": secret,
        "grant_type": "client_credentials",
    }
    with httpx.Client(base_url=server.url, timeout=10) as http:
        token = http.post("/v1/operator/oauth/token", json=body).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}

        def round_of_requests() -> list[int]:
            # Concurrency would spread over several pooled connections; sequential
            # requests through many paths touch the pool repeatedly.
            return [
                http.get("/healthz").status_code,
                http.get("/v1/operator/devices", headers=headers).status_code,
                http.get("/v1/operator/sites", headers=headers).status_code,
            ]

        for _ in range(5):
            assert round_of_requests() == [200, 200, 200]

        assert terminate_server_backends() >= 1

        statuses = [status for _ in range(10) for status in round_of_requests()]
    assert statuses == [200] * 30, server.log_tail()
