"""The admin shows the legacy outbox with its attempts and can retry a dead push."""

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from fleet.actors import Actor
from fleet.models import LegacyPush
from fleet.services.provisioning import create_operator_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead_push(monkeypatch):
    monkeypatch.setattr("fleet.tasks.deliver_legacy_push.delay", lambda *a, **k: None)
    client, _ = create_operator_client(
        Actor.platform(), "Acme", ["read"], legacy_callback_url="http://peer.test"
    )
    push = LegacyPush.objects.create(
        client=client, kind="notify_work_status", method="POST",
        url="http://peer.test/customer/notify_work_status", payload={"OrderId": "O-1"},
        ordering_key="order:1", status="dead", attempts=6, next_attempt_at=timezone.now(),
    )  # fmt: skip
    push.attempt_log.create(at=timezone.now(), outcome="http_error", status_code=503, detail="busy")
    return push


@pytest.fixture
def admin_client(client):
    get_user_model().objects.create_superuser("root", "", "pw-for-tests-1")
    client.login(username="root", password="pw-for-tests-1")
    return client


def test_outbox_page_shows_attempts(admin_client, dead_push):
    page = admin_client.get(f"/admin/fleet/legacypush/{dead_push.pk}/change/").content.decode()
    assert "http_error" in page and "503" in page and "busy" in page


def test_retrying_a_dead_push(admin_client, dead_push):
    response = admin_client.post(
        "/admin/fleet/legacypush/",
        {"action": "retry_dead", "_selected_action": [dead_push.pk]},
    )
    assert response.status_code == 302
    dead_push.refresh_from_db()
    assert dead_push.status == "pending"
    assert dead_push.next_attempt_at <= timezone.now()
