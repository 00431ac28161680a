"""The field cases run against a live server (tests/scenarios/field.py); each test file
holds one or two cases, so `--dist loadfile` spreads them over the workers."""

from collections.abc import Iterator

import pytest

from tests.live_server import LiveServer
from tests.scenarios.field import field_server


@pytest.fixture
def server(tmp_path) -> Iterator[LiveServer]:
    with field_server(tmp_path) as live:
        yield live
