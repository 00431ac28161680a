"""Two admins of one operator switching each other off at the same moment, through two
server processes: one of them wins, the other is refused, and the operator is never left
without an admin who can sign in."""

import threading
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from django.contrib.auth import get_user_model

from console.web.models import OperatorMember
from tests.console.http_browser import PROXY_ENV, HttpBrowser
from tests.factories import CONSOLE_PASSWORD as PASSWORD
from tests.live_server import LiveServer, serving

pytestmark = pytest.mark.django_db(transaction=True)

TRIALS = 30
User = get_user_model()


@pytest.fixture
def servers(tmp_path) -> Iterator[tuple[LiveServer, LiveServer]]:
    with (
        serving(tmp_path / "a.log", extra_env=PROXY_ENV) as a,
        serving(tmp_path / "b.log", extra_env=PROXY_ENV) as b,
    ):
        yield a, b


def test_two_admins_switching_each_other_off_at_once_leave_one_admin(
    servers, make_client, console_user
):
    a, b = servers
    make_client("Acme Charging")
    alba = console_user("alba", "Acme Charging", "admin")
    bert = console_user("bert", "Acme Charging", "admin")
    outcomes: Counter[str] = Counter()

    for _ in range(TRIALS):
        User.objects.filter(pk__in=[alba.pk, bert.pk]).update(is_active=True)
        hers, his = HttpBrowser("192.0.2.1"), HttpBrowser("192.0.2.2")
        assert hers.sign_in(f"{a.url}/login/", "alba", PASSWORD).status_code == 302
        assert his.sign_in(f"{b.url}/login/", "bert", PASSWORD).status_code == 302
        barrier = threading.Barrier(2)
        answers: dict[str, httpx.Response] = {}

        def switch_off(name, browser, server, target, barrier=barrier, answers=answers):
            barrier.wait()
            answers[name] = browser.post(f"{server.url}/people/{target.pk}/", {"access": "off"})

        threads = [
            threading.Thread(target=switch_off, args=("alba", hers, a, bert)),
            threading.Thread(target=switch_off, args=("bert", his, b, alba)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        hers.close()
        his.close()

        assert all(answer.status_code < 500 for answer in answers.values()), (
            answers,
            a.log_tail(40),
            b.log_tail(40),
        )
        active = set(
            User.objects.filter(pk__in=[alba.pk, bert.pk], is_active=True).values_list(
                "username", flat=True
            )
        )
        assert len(active) == 1, f"active admins after the race: {sorted(active)}"
        winner = active.pop()
        loser = "bert" if winner == "alba" else "alba"
        outcomes[f"{winner} kept access"] += 1
        told = answers[loser]
        assert told.status_code == 302, (
            told.status_code,
            told.text[:500],
            a.log_tail(30),
            b.log_tail(30),
        )
        assert told.headers["Location"].startswith("/login/")
        page = httpx.get(f"{a.url}{told.headers['Location']}", cookies=told.cookies)
        if "another admin switched off your own access" in page.text:
            outcomes["the other was refused and told on the sign-in page"] += 1
        else:  # switched off before their request was let in: simply signed out
            outcomes["the other was already signed out"] += 1
        assert OperatorMember.objects.filter(role="admin").count() == 2

    print(f"{TRIALS} races: {dict(outcomes)}")
