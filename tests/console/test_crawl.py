"""Every console page reachable by links, as each of the four roles, on the embedded
default (SQLite, started as `make run` starts it) and on PostgreSQL: no page answers 5xx,
and no page links where it will refuse (a 4xx, or a trip back to sign-in, from a link a
role was shown). The world crawled has something on every page (tests/crawl_world.py).
The operator API's reads answer on both databases too, with the same energy totals."""

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from tests.crawl import BACKENDS, crawl, sign_in, world_on

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live_server]


@pytest.fixture(params=BACKENDS)
def world(request, tmp_path):
    with world_on(request.param, tmp_path) as built:
        yield built


def test_every_page_answers_for_every_role(world):
    # On the database it is said to be on (SQLite without Redis: the embedded default).
    health = httpx.get(f"{world.url}/healthz", timeout=10).json()
    assert health["database"] == {"status": "ok", "vendor": world.backend}
    assert (health["redis"]["status"] == "not_configured") == (world.backend == "sqlite")
    failures, pages = [], {}
    for role, (username, password) in world.logins.items():
        found = crawl(world.url, username, password)
        failures += [f"{role}: {failure}" for failure in found.failures]
        pages[role] = found.pages
    assert failures == [], "\n".join(failures)

    # Each role reached the pages it is for, and only those.
    ids = world.ids
    for role, reached in pages.items():
        paths = {url.split("?")[0] for url in reached}
        assert {"/", "/alerts/", "/faults/", "/runbooks/", "/runs/", "/records/"} <= paths
        assert f"/devices/{ids['device_id']}/" in paths, role
        assert f"/sites/{ids['site_id']}/" in paths, role
        assert f"/runs/{ids['run_id']}/" in paths, role
        assert f"/runs/{ids['escalated_id']}/escalation/" in paths, role
        assert {"/firmware/", f"/firmware/campaigns/{ids['campaign_id']}/"} <= paths, role
        assert {
            "/faults/F-0421/",
            "/faults/undocumented/",
            "/faults/undocumented/X-7777/",
        } <= paths, role
        assert ("/audit/" in paths) == (role != "viewer"), role
        assert ("/people/" in paths) == (role == "admin"), role

    # What a role is not shown, it is refused in words (403), not by a failure.
    for role, hidden in (("viewer", "/audit/"), ("viewer", "/people/"), ("operator", "/people/")):
        browser = sign_in(world.url, *world.logins[role])
        try:
            assert browser.get(hidden).status_code == 403, (role, hidden)
        finally:
            browser.close()


def energy_window() -> str:
    """Two days back to tomorrow (the world's records are of the last 15 hours)."""
    today = timezone.now().date()
    start, end = today - timedelta(days=2), today + timedelta(days=1)
    return f"start_time={start}T00:00:00Z&end_time={end}T00:00:00Z"


def operator_reads(ids: dict) -> list[str]:
    """Every read of the operator API (GET in /v1/openapi.json), about the world's ids."""
    device, site = ids["device_id"], ids["site_id"]
    window = energy_window()
    reads = [
        "/v1/operator/sites",
        f"/v1/operator/sites/{site}",
        "/v1/operator/devices",
        f"/v1/operator/devices/{device}",
        f"/v1/operator/devices/{device}/events",
        f"/v1/operator/devices/{device}/telemetry",
        f"/v1/operator/devices/{device}/runbook-suggestions",
        "/v1/operator/charging-records",
        f"/v1/operator/commands/{ids['command_id']}",
        "/v1/operator/faults",
        "/v1/operator/faults/undocumented",
        "/v1/operator/faults/undocumented/X-7777/occurrences",
        "/v1/operator/faults/F-0421",
        "/v1/operator/runbooks",
        "/v1/operator/runbooks/charger-faulting-on-power-up",
        "/v1/operator/alerts",
        f"/v1/operator/alerts/{ids['alert_id']}",
        "/v1/operator/runbook-runs",
        f"/v1/operator/runbook-runs/{ids['run_id']}",
        "/v1/operator/audit-logs",
    ]
    for granularity in ("hour", "day", "month"):
        for group in ("", "&group_by=site", "&group_by=operator"):
            reads.append(
                f"/v1/operator/aggregated/energy?granularity={granularity}&{window}{group}"
            )
    return reads


def test_every_operator_read_answers(world):
    client_id, secret = world.ids["api_client"]
    with httpx.Client(base_url=world.url, timeout=60) as api:
        token = api.post(
            "/v1/operator/oauth/token",
            json={
                "client_id": client_id,
                "client_secret": secret,
                "grant_type": "client_credentials",
            },
        )
        assert token.status_code == 200, token.text
        api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        answers = {path: api.get(path) for path in operator_reads(world.ids)}
    failed = [
        f"{a.status_code} {path}: {a.text[:200]}"
        for path, a in answers.items()
        if a.status_code != 200
    ]
    assert failed == [], "\n".join(failed)
    # What the chargers reported through each database's own write path (the charger hot
    # path has a PostgreSQL and an ORM version): the telemetry sample, the connector it
    # updated, the command the charger claimed by its long poll and answered.
    ids = world.ids
    device = answers[f"/v1/operator/devices/{ids['device_id']}"].json()["data"]
    assert [(c["status"], c["power"]) for c in device["connectors"]] == [("charging", 42.0)]
    samples = answers[f"/v1/operator/devices/{ids['device_id']}/telemetry"].json()["data"]
    assert [(s["power"], s["temperature"]) for s in samples["items"]] == [(42.0, 31.0)]
    command = answers[f"/v1/operator/commands/{ids['command_id']}"].json()["data"]
    assert (command["command"], command["status"]) == ("start_charging", "completed")
    # The world's nine charging records, 108 kWh in all, whatever the bucket size.
    for granularity in ("hour", "day", "month"):
        path = f"/v1/operator/aggregated/energy?granularity={granularity}&{energy_window()}"
        assert answers[path].json()["data"]["total"]["charge_energy"] == 108.0, granularity
