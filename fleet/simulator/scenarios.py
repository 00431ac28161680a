"""The documentation's field cases, each a way some chargers of the fleet misbehave.

A scenario picks its chargers from the fleet (deterministically, by the run's seed),
may fix their model and firmware when they are first created, and sets their
`Behaviour`. Every scenario is meant to be caught by the platform's detectors:

- `f0421-cluster`: three DC chargers on firmware 3.0.1, at different sites, whose contactor
  fails to engage (F-0421) at every session start while they run a build from 3.0.0 to
  3.0.2 (the known issue): firmware cluster and repeat fault, fixed by an upgrade to
  3.0.3 or later;
- `f0204-overheat`: a DC charger with a failing fan, its connector passing 65 and 75 °C
  under load: over-temperature;
- `v2g-refused`: a V2G charger whose inverter refuses every discharge (F-0702);
- `heartbeat-loss`: a charger that goes silent two minutes in (F-0301, offline);
- `reconnect-storm`: a charger that keeps dropping off the network and coming back (F-0302);
- `stuck-preparing`: vehicles plug in and are never authorised, staying in `preparing`;
- `unknown-code`: a charger raising a fault code the dictionary does not document;
- `bad-build`: two TP-DC60 on 2.3.1, healthy until any firmware upgrade succeeds, then
  F-0411 at every session start (a regression in the new build): a campaign's halt rule;
- `flaky-uplink`: every charger loses half the answers to its record uploads and sends
  the record again (the server must not count it twice).
"""

from dataclasses import dataclass, field
from typing import Any

from fleet.simulator.charger import Behaviour


@dataclass(frozen=True)
class Scenario:
    name: str
    chargers: int  # how many it takes; 0: all of them
    identity: dict[str, Any] = field(default_factory=dict)  # model / firmware when created
    behaviour: dict[str, Any] = field(default_factory=dict)
    spread_over_sites: bool = False


SCENARIOS = {
    scenario.name: scenario
    for scenario in [
        Scenario(
            "f0421-cluster",
            3,
            {"model": "TP-DC180", "firmware_version": "3.0.1"},
            {
                "contactor_fault": "F-0421",
                "contactor_fault_firmware": ("3.0.0", "3.0.2"),  # decision: f0421-range
                "arrival_mean_seconds": 300.0,
            },
            spread_over_sites=True,
        ),
        Scenario(
            "f0204-overheat",
            1,
            {"model": "TP-DC180"},
            {"extra_heating": 120.0, "arrival_mean_seconds": 60.0},
        ),
        Scenario(
            "v2g-refused",
            1,
            {"model": "TP-DC360", "firmware_version": "4.0.0"},
            {"refuses_discharge_with": "F-0702", "arrival_mean_seconds": 120.0},
        ),
        Scenario("heartbeat-loss", 1, {}, {"silent_after_seconds": 120.0}),
        Scenario("reconnect-storm", 1, {}, {"flapping": True}),
        Scenario(
            "stuck-preparing",
            1,
            {},
            {"skips_authorisation": True, "arrival_mean_seconds": 60.0},
        ),
        Scenario("unknown-code", 1, {}, {"occasional_fault": "F-0999"}),
        Scenario(
            "bad-build",
            2,
            # Another model and build than the F-0421 cluster's, so a campaign for one
            # cohort does not take in the other (decision: sim-bad-build).
            {"model": "TP-DC60", "firmware_version": "2.3.1"},
            {"fault_after_upgrade": "F-0411", "arrival_mean_seconds": 300.0},
        ),
        Scenario("flaky-uplink", 0, {}, {"loses_record_answers": True}),
    ]
}


def assign(names: list[str], count: int) -> dict[int, list[Scenario]]:
    """Which charger (by index) takes part in which scenarios. Scenarios take chargers
    from the end of the fleet, one after another, so the first ones stay healthy."""
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        raise ValueError(f"unknown scenario {unknown[0]!r}; one of {', '.join(SCENARIOS)}")
    chosen: dict[int, list[Scenario]] = {}
    next_index = count - 1
    for name in names:
        scenario = SCENARIOS[name]
        if scenario.chargers == 0:
            for index in range(count):
                chosen.setdefault(index, []).append(scenario)
            continue
        for _ in range(scenario.chargers):
            if next_index < 0:
                raise ValueError(f"not enough chargers for scenario {name!r}")
            chosen.setdefault(next_index, []).append(scenario)
            next_index -= 1
    return chosen


def behaviour_for(scenarios: list[Scenario]) -> Behaviour:
    settings: dict[str, Any] = {}
    for scenario in scenarios:
        settings.update(scenario.behaviour)
    return Behaviour(**settings)
