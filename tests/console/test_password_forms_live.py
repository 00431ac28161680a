"""On two server processes sharing PostgreSQL and Redis (as in production): failures at
one server's admin sign-in count at the other's console sign-in, and the owner's browser,
holding its device cookie, signs in at either during an attack from several addresses."""

from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model

from tests.console.http_browser import PROXY_ENV, HttpBrowser
from tests.live_server import LiveServer, serving

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "staff-pass-123"
ATTACKERS = [f"203.0.113.{n}" for n in range(1, 5)]


@pytest.fixture
def servers(tmp_path) -> Iterator[tuple[LiveServer, LiveServer]]:
    with (
        serving(tmp_path / "a.log", extra_env=PROXY_ENV) as a,
        serving(tmp_path / "b.log", extra_env=PROXY_ENV) as b,
    ):
        yield a, b


def test_one_throttle_across_servers_and_forms_and_the_owners_browser_gets_in(servers):
    a, b = servers
    get_user_model().objects.create_superuser("admin", "", PASSWORD)
    owner = HttpBrowser("192.0.2.50")
    assert owner.sign_in(f"{a.url}/admin/login/", "admin", PASSWORD).status_code == 302
    owner.forget_session()

    # 20 wrong passwords from 4 addresses, half at A's admin, half at B's console.
    attacker = HttpBrowser()
    for address in ATTACKERS:
        for n in range(5):
            url = f"{a.url}/admin/login/" if n % 2 else f"{b.url}/login/"
            answer = attacker.sign_in(url, "admin", "wrong-guess", address)
            assert answer.status_code in (200, 429), answer.text[:300]

    # A browser that never signed in is held off at both forms of both servers ...
    stranger = HttpBrowser("198.51.100.77")
    for url in (f"{a.url}/login/", f"{b.url}/admin/login/"):
        refused = stranger.sign_in(url, "admin", PASSWORD)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0
        assert "Too many failed sign-ins" in refused.text

    # ... while the owner's own browser, from an address it never used, gets in.
    for url in (f"{b.url}/login/", f"{a.url}/admin/login/"):
        owner.forget_session()
        answer = owner.sign_in(url, "admin", PASSWORD, "198.51.100.80")
        assert answer.status_code == 302, answer.text[:300]
        assert owner.get(f"{b.url}/").status_code == 200
