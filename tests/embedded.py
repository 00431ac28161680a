"""The embedded default (`make run` with neither DATABASE_URL nor REDIS_URL): SQLite in a
temporary var folder, in-memory channel layer, filesystem Celery broker, run in
subprocesses, since the test suite itself holds to PostgreSQL and Redis
(tests/settings.py). Nothing here reads or writes a developer's var/ folder."""

import os
import subprocess
import sys
from pathlib import Path

from tests import markers
from tests.live_server import REPO, UNLIMITED_RATES, LiveServer

# Where each service is told to go: unset, they fall back to the embedded default.
SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DJANGO_SETTINGS_MODULE")


def embedded_environment(var_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in SERVICE_VARIABLES}
    env.update(UNLIMITED_RATES)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "console.settings",
            "TELLUS_VAR_DIR": str(var_dir),
            "TELLUS_PLAIN_HTTP": "true",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def run_python(argv: list[str], env: dict[str, str], timeout: float = 300) -> str:
    """`python <argv>` in the repository with `env`; its standard output, or an assertion
    error holding everything it said."""
    markers.require("live_server", "a `make run` process")
    done = subprocess.run(
        [sys.executable, *argv], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


class EmbeddedServer(LiveServer):
    """`uvicorn console.asgi:application` as `make run` starts it, on the embedded default."""

    def __init__(self, var_dir: Path, log_path: Path):
        super().__init__(database="", secret_key="", log_path=log_path)
        self.var_dir = var_dir

    def environment(self) -> dict[str, str]:
        return embedded_environment(self.var_dir)
