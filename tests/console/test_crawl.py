"""Every console page reachable by links, as each of the four roles, on the embedded
default (SQLite, started as `make run` starts it) and on PostgreSQL: no page answers 5xx,
and no page links where it will refuse (a 4xx, or a trip back to sign-in, from a link a
role was shown). The world crawled has something on every page (tests/crawl_world.py)."""

import pytest

from tests.crawl import BACKENDS, crawl, world_on

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=BACKENDS)
def world(request, tmp_path):
    with world_on(request.param, tmp_path) as built:
        yield built


def test_every_page_answers_for_every_role(world):
    failures, pages = [], {}
    for role, (username, password) in world.logins.items():
        found = crawl(world.url, username, password)
        failures += [f"{role}: {failure}" for failure in found.failures]
        pages[role] = found.pages
    assert failures == [], "\n".join(failures)

    # Each role reached the pages it is for, and only those.
    ids = world.ids
    for role, reached in pages.items():
        paths = {url.split("?")[0] for url in reached}
        assert {"/", "/alerts/", "/faults/", "/runbooks/", "/runs/", "/records/"} <= paths
        assert f"/devices/{ids['device_id']}/" in paths, role
        assert f"/sites/{ids['site_id']}/" in paths, role
        assert f"/runs/{ids['run_id']}/" in paths, role
        assert f"/runs/{ids['escalated_id']}/escalation/" in paths, role
        assert {"/faults/F-0421/", "/faults/undocumented/"} <= paths, role
        assert ("/audit/" in paths) == (role != "viewer"), role
        assert ("/people/" in paths) == (role == "admin"), role
