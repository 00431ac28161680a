"""`make run`: the whole system in one terminal — the ASGI server, a Celery worker with
beat and (unless SIMULATE=0) the simulated fleet — stopped together by Ctrl-C or SIGTERM.

The console's address and the demo logins are printed last, once the server answers, the
worker is ready and the fleet is registered, placed and given its past (each child says
so with a file under var/run/); the fleet then prints one summary line a minute.

Each child runs in a session of its own, so a signal reaches only this supervisor, which
passes it on exactly once: SIGTERM to each child, newest first, then SIGKILL to whatever
is left of that child's process group (Celery's pool) after a grace period. A child that
dies on its own stops the rest, and the exit status says so.
"""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from console.web.demo_logins import format_logins, read_logins
from fleet.simulator.scenarios import SCENARIOS

GRACE_SECONDS = 10
SERVER_WAIT_SECONDS = 120
# The worker and the fleet (registering, placing, back-filling its past) are given this
# long to say they are up before the logins are printed anyway, with what is missing.
READY_WAIT_SECONDS = 180
# The field cases the demo shows, as far as they fit in half the fleet.
DEMO_SCENARIOS = [
    "f0421-cluster",
    "f0204-overheat",
    "heartbeat-loss",
    "unknown-code",
    "v2g-refused",
    "stuck-preparing",
    "reconnect-storm",
    # Healthy until someone upgrades them: there for a firmware campaign to halt on.
    "bad-build",
]


def demo_scenarios(chargers: int) -> list[str]:
    chosen, taken = [], 0
    for name in DEMO_SCENARIOS:
        if taken + SCENARIOS[name].chargers <= chargers // 2:
            chosen.append(name)
            taken += SCENARIOS[name].chargers
    return chosen


def spawn(name: str, argv: list[str], **env: str) -> tuple[str, subprocess.Popen]:
    environment = {**os.environ, **env} if env else None
    return name, subprocess.Popen(argv, start_new_session=True, env=environment)  # noqa: S603


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310
            return response.status == 200
    except OSError:
        return False


def stop_all(children: list[tuple[str, subprocess.Popen]]) -> None:
    """Newest first, each given its grace before the next is told: the fleet leaves
    before the server it talks to, so a stop is not a storm of failed requests."""
    for _, process in reversed(children):
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        try:  # the child's own children (a Celery pool) go with it
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        process.wait()


def wait_for(
    ready: Callable[[], bool],
    children: list[tuple[str, subprocess.Popen]],
    stopping: list[int],
    seconds: float,
) -> bool:
    """Until `ready()`, a signal, a child's exit or the time is up; whether it is ready."""
    deadline = time.monotonic() + seconds
    while not ready():
        if stopping or time.monotonic() > deadline:
            return False
        if any(process.poll() is not None for _, process in children):
            return False
        time.sleep(0.3)
    return True


def main() -> int:
    host, port = os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "8000")
    url = f"http://{host}:{port}"
    python = sys.executable
    var = Path(os.environ.get("TELLUS_VAR_DIR", "var"))
    stopping: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda received, frame: stopping.append(received))
    # Each child says it is up by creating its file here; the logins are printed after.
    worker_ready, fleet_ready = var / "run" / "worker.ready", var / "run" / "fleet.ready"
    worker_ready.parent.mkdir(parents=True, exist_ok=True)
    for stale in (worker_ready, fleet_ready):
        stale.unlink(missing_ok=True)

    server = [python, "-m", "uvicorn", "console.asgi:application", "--host", host]
    server += ["--port", port, "--lifespan", "off", "--no-proxy-headers", "--no-access-log"]
    # --quiet: no banner (it pushed the logins out of sight); warnings still show.
    worker = [python, "-m", "celery", "-A", "console", "--quiet", "worker", "--beat"]
    worker += ["--loglevel=WARNING", "--concurrency=2", f"--schedule={var}/celerybeat-schedule"]
    children = [
        spawn("server", server),
        spawn("worker", worker, TELLUS_WORKER_READY_FILE=str(worker_ready)),
    ]
    server_up = wait_for(lambda: healthy(url), children, stopping, SERVER_WAIT_SECONDS)
    states = [f"server {'healthy' if server_up else 'not answering /healthz yet'}"]
    simulate = os.environ.get("SIMULATE", "1") not in {"0", "false", "no"}
    fleet_line = ""
    if server_up and not stopping and simulate:
        chargers = os.environ.get("CHARGERS", "50")
        history = os.environ.get("HISTORY_DAYS", "5")
        argv = [python, "manage.py", "simulate_fleet", "--base-url", url, "--chargers", chargers]
        argv += ["--provision", "--operator", "Demo Charging", "--sites", "3"]
        argv += ["--state-file", f"{var}/simulator.json", "--history-days", history]
        argv += ["--summary-every", os.environ.get("FLEET_SUMMARY_SECONDS", "60")]
        argv += ["--ready-file", str(fleet_ready)]
        scenarios = demo_scenarios(int(chargers))
        for scenario in scenarios:
            argv += ["--scenario", scenario]
        children.append(spawn("fleet", argv))
        shown = ", ".join(scenarios) or "none"
        fleet_line = (
            f"  Simulated fleet: {chargers} chargers on 3 sites, with {history} days of "
            f"history; field cases: {shown}."
        )
    if server_up:
        up = wait_for(worker_ready.exists, children, stopping, READY_WAIT_SECONDS)
        states.append("worker ready" if up else "worker not ready yet")
        if simulate:
            up = wait_for(fleet_ready.exists, children, stopping, READY_WAIT_SECONDS)
            states.append("fleet on its sites" if up else "fleet still starting")
    if not stopping and all(process.poll() is None for _, process in children):
        print(f"\n  Tellus is running ({', '.join(states)}). Ctrl-C stops it.")
        if fleet_line:
            print(fleet_line)
        print(format_logins(url, read_logins(var), var) + "\n")
        sys.stdout.flush()

    failed = ""
    while not stopping and not failed:
        for name, process in children:
            if process.poll() is not None:
                failed = f"{name} exited with status {process.returncode}"
        time.sleep(0.2)
    if failed:
        print(f"  {failed}; stopping the rest", file=sys.stderr)
    else:
        print("\n  stopping…")
    stop_all(children)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
