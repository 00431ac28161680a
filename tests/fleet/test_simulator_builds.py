"""What a simulated charger does depends on the build it runs: dotted versions compared
as numbers, the F-0421 cluster faulting only inside 3.0.0-3.0.2, a bad build faulting
once upgraded, and the package URLs a charger will download. No server needed."""

import asyncio
import random

import httpx
import pytest

from fleet.simulator.charger import SimulatedCharger, downloadable
from fleet.simulator.client import ChargerClient
from fleet.simulator.scenarios import SCENARIOS, behaviour_for
from fleet.simulator.versions import version_key, within


@pytest.mark.parametrize(
    ("version", "inside"),
    [
        ("2.9.9", False),
        ("3.0", True),  # 3.0.0
        ("3.0.0", True),
        ("3.0.1", True),
        ("3.0.2", True),
        ("3.0.2-hotfix", True),  # a suffix is not a newer build
        ("3.0.3", False),
        ("3.0.10", False),  # numbers, not text: 10 comes after 2
        ("3.1.0", False),
        ("", False),
        ("three", False),
        ("3.x.1", False),
    ],
)
def test_the_f0421_range_is_compared_as_numbers(version, inside):
    assert within(version, "3.0.0", "3.0.2") is inside


def test_trailing_zeros_name_the_same_build():
    assert version_key("3.1") == version_key("3.1.0") == (3, 1)
    assert version_key("0") == (0,)
    assert version_key("10.0.0") > version_key("9.99")


def start_fault(scenario: str, saved: dict) -> tuple[str, str]:
    """The fault a charger of `scenario` in the state `saved` raises at a session start."""

    async def built() -> tuple[str, str]:
        async with httpx.AsyncClient() as http:
            client = ChargerClient(http, random.Random(1), asyncio.Event())
            behaviour = behaviour_for([SCENARIOS[scenario]])
            entry = {"sn": "SIM-1", "model": "TP-DC180", **saved}
            return SimulatedCharger(
                entry, client, random.Random(1), 1, behaviour
            ).session_start_fault()

    return asyncio.run(built())


def test_the_f0421_cluster_faults_only_on_an_affected_build():
    assert start_fault("f0421-cluster", {"firmware_version": "3.0.1"})[0] == "F-0421"
    assert start_fault("f0421-cluster", {"firmware_version": "3.0.3"}) == ("", "")
    upgraded = {"firmware_version": "3.1.0", "upgraded_from": "3.0.1"}
    assert start_fault("f0421-cluster", upgraded) == ("", "")


def test_a_bad_build_faults_only_once_upgraded():
    assert start_fault("bad-build", {"firmware_version": "2.3.1"}) == ("", "")
    upgraded = {"firmware_version": "2.4.0", "upgraded_from": "2.3.1"}
    assert start_fault("bad-build", upgraded)[0] == "F-0411"


@pytest.mark.parametrize(
    ("url", "fetchable"),
    [
        ("https://fw.example/3.1.0.bin", True),
        ("http://10.0.0.5:8080/fw.bin", True),
        ("", False),
        ("   ", False),
        ("ftp://fw.example/3.1.0.bin", False),
        ("file:///etc/passwd", False),
        ("https://", False),
        ("fw.example/3.1.0.bin", False),
        ("http://[::1", False),  # malformed
        (None, False),
        (42, False),
        (["https://fw.example"], False),
    ],
)
def test_only_an_http_package_url_is_downloaded(url, fetchable):
    assert downloadable(url) is fetchable
