"""A credential change made while Redis is unreachable still reaches Redis.

A Redis that only lost touch (a partition, not a restart) keeps the version it had; if
the change never arrived, other processes would go on trusting the revoked tokens. The
change is kept and sent once Redis answers again, and every version in Redis expires so
that even a change lost with its process is outlived for a bounded time only.
"""

import pytest
import redis
from django.conf import settings

from fleet.services import credential_versions
from fleet.services.credential_versions import REDIS_TTL_SECONDS, _key

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def test_a_revocation_made_during_an_outage_replaces_the_old_version_once_redis_is_back(
    shared, monkeypatch
):
    credential_versions.publish("operator", "cli_partitioned", 3)
    assert shared.get(_key("operator", "cli_partitioned")) == b"3"

    reachable = credential_versions._client
    unreachable = redis.Redis(port=1, socket_connect_timeout=0.2)  # nothing listens there
    monkeypatch.setattr(credential_versions, "_client", lambda: unreachable)
    credential_versions.publish("operator", "cli_partitioned", 0)  # revoked
    assert shared.get(_key("operator", "cli_partitioned")) == b"3"  # Redis never heard

    monkeypatch.setattr(credential_versions, "_client", reachable)
    credential_versions.send_unsent()  # what the listener does on resubscribing
    assert shared.get(_key("operator", "cli_partitioned")) == b"0"


def test_versions_in_redis_expire(shared):
    credential_versions.publish("device", "dvc_expiring", 2)
    assert 0 < shared.ttl(_key("device", "dvc_expiring")) <= REDIS_TTL_SECONDS
