"""A charger's history belongs to the operator it happened under: after A → B → A, each
operator reads, through the operator API, only the records, events, telemetry and energy
of its own periods with the charger, A even while the charger is B's; an operator that
never owned it gets 404."""

from datetime import timedelta

import pytest

from fleet.actors import Actor
from fleet.services import provisioning
from tests.history_world import DAYS, SESSIONS, transferred


@pytest.fixture
def world(acme, rival, make_client, operator_token, assigned_device):
    (a_client, a_token), (b_client, b_token) = acme, rival
    device = assigned_device(a_client)
    stranger, secret = make_client("Stranger Charging")
    return {
        "a": (a_client, a_token),
        "b": (b_client, b_token),
        "stranger": operator_token(stranger, secret),
        "device": device,
    }


def records(api, token, **params) -> list[str]:
    response = api.get("/v1/operator/charging-records", token, size=100, **params)
    assert response.status_code == 200, response.content
    return sorted(r["record_id"] for r in response.json()["data"]["items"])


def events(api, token, device_id) -> set[int]:
    response = api.get(f"/v1/operator/devices/{device_id}/events", token, size=100)
    assert response.status_code == 200, response.content
    return {e["event_id"] for e in response.json()["data"]["items"]}


def telemetry_powers(api, token, device_id) -> list[float]:
    response = api.get(f"/v1/operator/devices/{device_id}/telemetry", token, size=100)
    assert response.status_code == 200, response.content
    return sorted(s["power"] for s in response.json()["data"]["items"])


def day_energy(api, token, day, **params) -> dict:
    response = api.get(
        "/v1/operator/aggregated/energy", token, granularity="day",
        start_time=day.isoformat(), end_time=(day + timedelta(days=1)).isoformat(), **params,
    )  # fmt: skip
    assert response.status_code == 200, response.content
    return response.json()["data"]["total"]


def test_records_stay_with_the_operator_they_were_uploaded_under(api, world):
    (a, a_token), (b, b_token) = world["a"], world["b"]
    device_id = world["device"].device_id
    history = transferred(a, b, world["device"])
    assert records(api, a_token) == ["rec-0", "rec-2"]
    assert records(api, b_token) == ["rec-1"]
    # The device filter: A and B each formerly or currently owned it, and read their part.
    assert records(api, a_token, device_id=device_id) == ["rec-0", "rec-2"]
    assert records(api, b_token, device_id=device_id) == ["rec-1"]
    listed = api.get("/v1/operator/charging-records", b_token, device_id=device_id)
    vins = [r["vehicle_info"]["vin"] for r in listed.json()["data"]["items"]]
    assert vins == ["VIN-OF-PERIOD-1"]
    # One that never owned it is told nothing.
    refused = api.get("/v1/operator/charging-records", world["stranger"], device_id=device_id)
    assert refused.status_code == 404
    assert history.device.site_id == history.a_site.site_id


def test_the_old_operator_reads_its_history_while_the_charger_is_someone_elses(api, world):
    (a, a_token), (b, b_token) = world["a"], world["b"]
    device_id = world["device"].device_id
    history = transferred(a, b, world["device"], back=False)
    # The charger is B's now: A may not see or command it...
    assert api.get(f"/v1/operator/devices/{device_id}", a_token).status_code == 404
    # ...but keeps its records, events and telemetry from before (no 404 on the filter).
    assert records(api, a_token, device_id=device_id) == ["rec-0"]
    assert events(api, a_token, device_id) == history.ids(a.operator_id, "event_ids")
    assert telemetry_powers(api, a_token, device_id) == [27.0, 30.0]
    # B starts from an empty history of the charger: only what happened since.
    assert records(api, b_token, device_id=device_id) == ["rec-1"]
    assert events(api, b_token, device_id) == history.ids(b.operator_id, "event_ids")
    assert telemetry_powers(api, b_token, device_id) == [8.0, 11.0]


def test_events_and_telemetry_after_the_round_trip(api, world):
    (a, a_token), (b, b_token) = world["a"], world["b"]
    device_id = world["device"].device_id
    history = transferred(a, b, world["device"])
    # Moving back to A does not merge B's period into A's.
    assert events(api, a_token, device_id) == history.ids(a.operator_id, "event_ids")
    assert events(api, b_token, device_id) == history.ids(b.operator_id, "event_ids")
    assert not history.ids(a.operator_id, "event_ids") & history.ids(b.operator_id, "event_ids")
    assert telemetry_powers(api, a_token, device_id) == [4.0, 7.0, 27.0, 30.0]
    assert telemetry_powers(api, b_token, device_id) == [8.0, 11.0]
    stranger = world["stranger"]
    assert api.get(f"/v1/operator/devices/{device_id}/events", stranger).status_code == 404
    assert api.get(f"/v1/operator/devices/{device_id}/telemetry", stranger).status_code == 404


def test_energy_of_a_past_day_does_not_change_with_the_owner(api, world):
    (a, a_token), (b, b_token) = world["a"], world["b"]
    history = transferred(a, b, world["device"], back=False)
    first_day = day_energy(api, a_token, DAYS[0])
    assert first_day == {"charge_energy": SESSIONS[0][0], "discharge_energy": 0.0,
                         "max_power": SESSIONS[0][1]}  # fmt: skip
    assert day_energy(api, b_token, DAYS[0]) == {
        "charge_energy": 0.0, "discharge_energy": 0.0, "max_power": 0.0,
    }  # fmt: skip
    assert day_energy(api, b_token, DAYS[1])["charge_energy"] == SESSIONS[1][0]
    assert day_energy(api, a_token, DAYS[1])["charge_energy"] == 0.0
    # Back to A: nothing of either past moves.
    provisioning.assign_device(Actor.platform(), history.device.device_id, history.a_site.site_id)
    assert day_energy(api, a_token, DAYS[0]) == first_day
    assert day_energy(api, a_token, DAYS[1])["charge_energy"] == 0.0
    assert day_energy(api, b_token, DAYS[1])["charge_energy"] == SESSIONS[1][0]
    assert day_energy(api, b_token, DAYS[1])["max_power"] == SESSIONS[1][1]
    by_site = api.get(
        "/v1/operator/aggregated/energy", b_token, granularity="day", group_by="site",
        start_time=DAYS[1].isoformat(), end_time=(DAYS[1] + timedelta(days=1)).isoformat(),
    ).json()["data"]["series"]  # fmt: skip
    assert [p["site_id"] for p in by_site] == [history.b_site.site_id]


def test_a_site_moved_to_another_operator_keeps_its_past_with_the_first(
    api, acme, rival, assigned_device, site_for
):
    (a, a_token), (b, b_token) = acme, rival
    depot = site_for(a, "Depot")
    device = assigned_device(a, depot)
    history = transferred(a, b, device, back=False)  # period 0 at Depot under A
    provisioning.assign_device(Actor.platform(), device.device_id, depot.site_id)
    before = day_energy(api, a_token, DAYS[0], site_ids=depot.site_id)
    # The whole site changes hands (as the admin does it).
    depot.operator = b.operator
    depot.save()
    assert day_energy(api, a_token, DAYS[0], site_ids=depot.site_id) == before
    assert day_energy(api, b_token, DAYS[0]) == {
        "charge_energy": 0.0, "discharge_energy": 0.0, "max_power": 0.0,
    }  # fmt: skip
    assert records(api, a_token, device_id=device.device_id) == ["rec-0"]
    assert records(api, b_token, device_id=device.device_id) == ["rec-1"]
    assert history.periods[0].operator_id == a.operator_id
