"""The field cases `make run` gives its fleet (console/devrun.py): the bad build is among
them, on chargers of its own, and the demo stays mostly healthy."""

from console.devrun import demo_scenarios
from fleet.simulator.scenarios import SCENARIOS, assign


def test_the_demo_has_a_bad_build_apart_from_the_f0421_cluster():
    names = demo_scenarios(50)
    roles = assign(names, 50)
    cluster = {i for i, taken in roles.items() if SCENARIOS["f0421-cluster"] in taken}
    bad = {i for i, taken in roles.items() if SCENARIOS["bad-build"] in taken}

    assert len(cluster) == 3 and len(bad) == 2 and not cluster & bad
    # Another model and build: a campaign for the cluster's cohort leaves them out.
    assert SCENARIOS["bad-build"].identity != SCENARIOS["f0421-cluster"].identity
    assert sum(SCENARIOS[name].chargers for name in names) <= 25  # half the fleet at most


def test_a_small_demo_leaves_out_what_does_not_fit():
    assert "bad-build" not in demo_scenarios(10)
