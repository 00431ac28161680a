"""The simulator's state file: a fleet grown on a later run keeps its chargers and adds
new ones with serial numbers of their own."""

from fleet.simulator.fleet import FleetOptions, plan_fleet


def options(chargers: int) -> FleetOptions:
    return FleetOptions(base_url="http://127.0.0.1:1", chargers=chargers, seed=2026)


def test_a_grown_fleet_keeps_its_chargers_and_never_repeats_a_serial_number():
    state = {"base_url": "http://127.0.0.1:1", "chargers": []}
    first = [dict(saved) for saved, _ in plan_fleet(options(20), state)]

    grown = [saved for saved, _ in plan_fleet(options(50), state)]

    assert [saved["sn"] for saved in grown[:20]] == [saved["sn"] for saved in first]
    serials = [saved["sn"] for saved in grown]
    assert len(set(serials)) == 50


def test_the_same_seed_plans_the_same_fleet():
    one = plan_fleet(options(10), {"base_url": "x", "chargers": []})
    two = plan_fleet(options(10), {"base_url": "x", "chargers": []})
    assert [saved for saved, _ in one] == [saved for saved, _ in two]
