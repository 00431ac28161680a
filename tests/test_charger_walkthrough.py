"""The charger walkthrough of docs/charger-api.md, run exactly as written against a live server.

The block after `<!-- walkthrough -->` is extracted from docs/charger-api.md and run as a
script in a process of its own, with the demo client's credentials in its environment as
the page says; its printed lines must be the ones the page's comments promise.
"""

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from django.db import connection

from fleet.actors import Actor
from fleet.services import provisioning
from tests.live_server import REPO, LiveServer, database_url, serving

pytestmark = pytest.mark.django_db(transaction=True)


def walkthrough() -> str:
    page = (REPO / "docs" / "charger-api.md").read_text()
    found = re.search(r"<!-- walkthrough -->\n```python\n(.*?)```", page, re.DOTALL)
    assert found, "docs/charger-api.md has no walkthrough block"
    return found.group(1)


@pytest.fixture
def server(tmp_path) -> Iterator[LiveServer]:
    with serving(tmp_path / "server.log") as live:
        yield live


def test_the_charger_walkthrough_runs_as_written(server):
    client, secret = provisioning.create_operator_client(
        Actor.platform(), "Walkthrough Charging", ["read", "write"]
    )
    provisioning.create_site(Actor.platform(), client.client_id, "Depot")
    env = {
        **os.environ,
        "TELLUS_URL": server.url,
        "TELLUS_CLIENT_ID": client.client_id,
        "TELLUS_CLIENT_SECRET": secret,
        # The script's own `manage.py assign_device` reaches the same database.
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(connection.settings_dict),
    }
    done = subprocess.run(
        [sys.executable, "-c", walkthrough()],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr + server.log_tail()
    heartbeat, poll, status = done.stdout.strip().splitlines()
    assert heartbeat == "{'code': 0, 'message': 'success', 'data': {'commands': []}}"
    assert poll == "None"
    assert status == "completed"
