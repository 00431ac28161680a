"""Queries written for one database have a version for the other, and both give the
same, known answers: every case of tests/parity_cases.py on PostgreSQL (here) and on the
embedded default's SQLite (a subprocess with a fresh SQLite file)."""

import json

import pytest

from tests.embedded import embedded_environment, run_python
from tests.parity_cases import CASES, raised_by_versions, run_case

pytestmark = pytest.mark.django_db(transaction=True)

D = "2026-01-"
EXPECTED = {
    # Acme's chargers only; the event 40 days back is outside the window.
    "raised_by": [
        ["SN-A1", "North depot", 1, 3, f"{D}30T12:00:00+00:00"],
        ["SN-A2", "South depot", 1, 1, f"{D}29T12:00:00+00:00"],
    ],
    "reported_codes": ["F-0421", "X-9"],
    "latest_reporters": {"F-0421": ["SN-A1", "SN-A2"], "X-9": ["SN-A2"]},
    # The newest two of each code, Acme's own only, newest first.
    "latest_events": {
        "F-0421": [["SN-A1", f"{D}30T12:00:00+00:00"], ["SN-A2", f"{D}29T12:00:00+00:00"]],
        "X-9": [["SN-A2", f"{D}28T12:00:00+00:00"]],
    },
    # Within 5 minutes, at most 6 a side; its own connector, or every one for connector 0;
    # never a sample stamped with another operator.
    "telemetry_around": {
        "connector 1": [[1, -240.0], [1, -5.0], [1, 0.0], [1, 30.0], [1, 290.0]],
        "connector 0": [[1, -240.0], [1, -5.0], [1, 0.0], [2, 10.0], [1, 30.0], [1, 290.0]],
    },
    "runbooks_for_code": {
        "F-0421": ["charger-faulting-on-power-up", "connector-stuck-preparing"],
        "F-0702": ["charger-faulting-on-power-up", "v2g-discharge-not-flowing"],
        "X-9": [],
    },
    "energy": {
        "series": [
            [f"{D}31T10:00:00Z", 10.0, 15.0, 10.0],
            [f"{D}31T11:00:00Z", 10.0, 22.0, 10.0],
        ],
        "total": {"charge_energy": 20.0, "discharge_energy": 0.0, "max_power": 22.0},
    },
    "site_controls": {"North depot": ["limit_power"], "South depot": ["limit_power", "pause"]},
    "serial_letter_case": {
        "refused": ["sn-case-7", "SN-CASE-7", "SN-Case-7"],
        "database_refused": True,
        "released": ["SN-Case-7", True],
        "registered": True,
    },
}


@pytest.fixture(scope="module")
def sqlite_answers(tmp_path_factory) -> dict:
    var_dir = tmp_path_factory.mktemp("embedded-var")
    output = run_python(["-m", "tests.parity_cases"], embedded_environment(var_dir))
    return json.loads(output.strip().splitlines()[-1])


@pytest.mark.parametrize("name", CASES)
def test_postgresql_gives_the_known_answer(name):
    assert run_case(name) == EXPECTED[name]


@pytest.mark.parametrize("name", CASES)
@pytest.mark.live_server
def test_the_embedded_default_gives_the_known_answer(sqlite_answers, name):
    assert sqlite_answers[name] == EXPECTED[name]


@pytest.mark.parametrize("version", ["postgresql", "orm"])
def test_both_versions_of_the_fleet_context_agree_on_postgresql(version, monkeypatch):
    monkeypatch.setattr("tests.parity_cases.raised_by_versions", lambda: {
        "chosen": raised_by_versions()[version]
    })  # fmt: skip
    assert run_case("raised_by") == EXPECTED["raised_by"]
