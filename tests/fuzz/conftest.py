"""Live server and provisioned fleet for the fuzz suite (tests/fuzz).

The server is a uvicorn subprocess on the pytest-django test database, so everything the
fixtures create is committed (DB access unblocked outside any test transaction), and the
package's teardown stops the server and flushes the database, as a transactional test
does, so the rest of the suite starts from the usual empty database.
"""

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from tests.fuzz.stats import STATS
from tests.fuzz.world import Provisioner, World, row_counts
from tests.live_server import LiveServer, database_url


@pytest.fixture(scope="package")
def tellus_server(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[LiveServer]:
    with django_db_blocker.unblock():
        url = database_url(connection.settings_dict)
    server = LiveServer(url, settings.SECRET_KEY, tmp_path_factory.mktemp("fuzz") / "server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        with django_db_blocker.unblock():
            call_command("flush", interactive=False, verbosity=0)
            connection.close()


@pytest.fixture(scope="package")
def world(tellus_server, django_db_blocker) -> World:
    with django_db_blocker.unblock():
        built = Provisioner(tellus_server.url).build()
    built.server = tellus_server
    return built


@pytest.fixture
def counts(django_db_blocker):
    """`counts()`: rows of every table a request could write to, read from this process."""

    def read() -> dict[str, int]:
        with django_db_blocker.unblock():
            return row_counts()

    return read


def pytest_terminal_summary(terminalreporter):
    if STATS.requests or STATS.declared:
        terminalreporter.write_sep("-", "fuzzing figures")
        for line in STATS.lines():
            terminalreporter.write_line(line)
