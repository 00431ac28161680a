"""The real ASGI application, served by uvicorn in a subprocess, on the test database.

The fuzz suite and the multi-process tests talk to servers started exactly as production starts it
(`uvicorn console.asgi:application`, charger fast path included), with the test settings
(`tests.settings`), the pytest-django test database and the test Redis database. Only the
rate limits are raised: thousands of requests from one client in a minute are the point
of a fuzz run, and 429 answers would keep them from ever reaching a handler.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from tests import markers

REPO = Path(__file__).resolve().parents[1]
APPLICATION_NAME = "tellus-live-server"

# High enough never to trip during a run; the rate limiter itself still runs on every call.
UNLIMITED_RATES = {
    "TELLUS_RATE_OPERATOR_QUERY": "1000000/minute",
    "TELLUS_RATE_OPERATOR_CONTROL": "1000000/minute",
    "TELLUS_RATE_TOKEN": "1000000/minute",
    "TELLUS_RATE_DEVICE_HIGH_FREQUENCY": "1000000/second",
    "TELLUS_RATE_DEVICE_OTHER": "1000000/minute",
}


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL naming the database Django is connected to (the test database once
    pytest-django has created it)."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{quote(settings_dict['NAME'], safe='')}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    """`uvicorn console.asgi:application` on 127.0.0.1 and a free port; `server="daphne"`
    serves it with daphne instead (what `manage.py runserver` runs), for what each ASGI
    server hands the application its own way (the raw request target, chunked bodies)."""

    def __init__(
        self,
        database: str,
        secret_key: str,
        log_path: Path,
        extra_env: dict[str, str] | None = None,
        access_log: bool = False,
        server: str = "uvicorn",
    ):
        self.server = server
        self.database = database
        self.extra_env = extra_env or {}
        self.access_log = access_log
        self.secret_key = secret_key
        self.log_path = log_path
        self.port = 0
        self.process: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(UNLIMITED_RATES)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "tests.settings",
                "DATABASE_URL": self.database,
                # Tokens are signed with a key derived from SECRET_KEY; the test process
                # issues some of them, so both sides must share it.
                "SECRET_KEY": self.secret_key,
                "LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    def start(self, attempts: int = 3) -> None:
        markers.require("live_server", "a live server")
        for attempt in range(attempts):
            self.port = free_port()
            self._log = self.log_path.open("ab")
            self.process = subprocess.Popen(
                self._daphne()
                if self.server == "daphne"
                else [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "console.asgi:application",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--lifespan",
                    "off",
                    "--access-log" if self.access_log else "--no-access-log",
                    "--no-proxy-headers",
                    "--log-level",
                    "info" if self.access_log else "warning",
                    "--timeout-graceful-shutdown",
                    "2",
                ],
                cwd=REPO,
                env=self.environment(),
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            if self._wait_ready():
                return
            self.stop()
            if attempt == attempts - 1:
                raise RuntimeError(f"live server did not start; log:\n{self.log_tail()}")

    def _daphne(self) -> list[str]:
        verbosity = ["-v", "1" if self.access_log else "0"]
        where = ["-b", "127.0.0.1", "-p", str(self.port), *verbosity]
        return [sys.executable, "-m", "daphne", *where, "console.asgi:application"]

    def _wait_ready(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 80) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_since(self, offset: int) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""


@contextmanager
def serving(log_path: Path, **options) -> Iterator[LiveServer]:
    """A live server on the test database for one (transactional) test; what the test
    wrote is flushed afterwards, since the server committed it outside the test's reach."""
    # Named, so a test can tell the server's database sessions from its own.
    database = database_url(connection.settings_dict) + f"?application_name={APPLICATION_NAME}"
    live = LiveServer(database, settings.SECRET_KEY, log_path, **options)
    live.start()
    try:
        yield live
    finally:
        live.stop()
        call_command("flush", interactive=False, verbosity=0)


@contextmanager
def shared_server(django_db_blocker, log_path: Path, **options) -> Iterator[LiveServer]:
    """A live server kept for many transactional tests (a module-scoped fixture): starting
    one costs seconds, and each test's teardown already empties the database it serves
    (the cache is cleared per test too), so nothing one test wrote reaches the next."""
    with django_db_blocker.unblock():
        database = database_url(connection.settings_dict)
    live = LiveServer(
        f"{database}?application_name={APPLICATION_NAME}", settings.SECRET_KEY, log_path, **options
    )
    live.start()
    try:
        yield live
    finally:
        live.stop()
        with django_db_blocker.unblock():
            call_command("flush", interactive=False, verbosity=0)
            connection.close()


def eventually(condition, timeout: float = 90.0, what: str = "") -> None:
    """Wait for `condition()` to hold, for what a live system does in its own time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")
