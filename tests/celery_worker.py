"""A real Celery worker (with beat) as a separate process, on the test database."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

from tests import markers

ROOT = Path(__file__).resolve().parents[1]


def worker_database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class WorkerProcess:
    def __init__(self, workdir: Path, database_url: str, settings: dict[str, str]):
        self.workdir, self.settings = workdir, settings
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url,
            **settings,
        }
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def log(self) -> Path:
        return self.workdir / f"worker-{self.starts}.log"

    def start(self, timeout: float = 60) -> None:
        markers.require("live_server", "a Celery worker")
        self.starts += 1
        with self.log.open("w") as output:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "console",
                    "worker",
                    "--beat",
                    "--pool=solo",
                    "--loglevel=INFO",
                    "-s",
                    str(self.workdir / "beat-schedule"),
                ],
                cwd=ROOT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                # Its own process group: the embedded beat is a child process, and a
                # kill must take it too or it outlives the test.
                start_new_session=True,
            )
        deadline = time.time() + timeout
        while "ready" not in self.log.read_text():
            if self.process.poll() is not None or time.time() > deadline:
                self.process.kill()
                raise RuntimeError(f"celery worker did not start:\n{self.log.read_text()}")
            time.sleep(0.2)

    def kill(self) -> None:
        """As a crash would: no warm shutdown, worker and beat at once."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        # Whatever is left of the group (a beat child) goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def eventually(check, seconds: float = 20, interval: float = 0.2) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return True
        time.sleep(interval)
    return False
