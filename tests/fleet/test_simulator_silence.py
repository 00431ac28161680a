"""A charger acting out heartbeat loss is silent from `silent_after_seconds` on; with
`silent_for_seconds` it is heard again once that long has passed (the site's network is
back), so a command queued meanwhile reaches it."""

import asyncio
import random

from fleet.simulator.charger import Behaviour, SimulatedCharger


def silence(behaviour: Behaviour, at: list[float]) -> list[bool]:
    """Whether the charger is silent at each simulated second of `at` since its start."""

    async def look() -> list[bool]:
        saved = {"sn": "SIM-SILENT", "model": "TP-DC180", "connectors": 1}
        charger = SimulatedCharger(saved, client=None, rng=random.Random(1), speed=1,
                                   behaviour=behaviour)  # fmt: skip
        started = charger.started
        found = []
        for second in at:
            charger.sim_now = lambda second=second: started + second
            found.append(charger.is_silent())
        return found

    return asyncio.run(look())


def test_a_charger_heard_again_after_its_silence():
    behaviour = Behaviour(silent_after_seconds=120, silent_for_seconds=600)
    assert silence(behaviour, [60, 121, 700, 721, 5000]) == [False, True, True, False, False]


def test_without_an_end_the_silence_lasts():
    behaviour = Behaviour(silent_after_seconds=120)
    assert silence(behaviour, [60, 121, 100000]) == [False, True, True]


def test_a_charger_without_heartbeat_loss_is_never_silent():
    assert silence(Behaviour(), [0, 100000]) == [False, False]
