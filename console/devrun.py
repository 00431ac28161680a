"""`make run`: the whole system in one terminal — the ASGI server, a Celery worker with
beat and (unless SIMULATE=0) the simulated fleet — stopped together by Ctrl-C or SIGTERM.

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

from fleet.simulator.scenarios import SCENARIOS

GRACE_SECONDS = 10
# The field cases the demo shows, as far as they fit in half the fleet.
DEMO_SCENARIOS = [
    "f0421-cluster",
    "f0204-overheat",
    "heartbeat-loss",
    "unknown-code",
    "v2g-refused",
    "stuck-preparing",
    "reconnect-storm",
]


def demo_scenarios(chargers: int) -> list[str]:
    chosen, taken = [], 0
    for name in DEMO_SCENARIOS:
        if taken + SCENARIOS[name].chargers <= chargers // 2:
            chosen.append(name)
            taken += SCENARIOS[name].chargers
    return chosen


def spawn(name: str, argv: list[str]) -> tuple[str, subprocess.Popen]:
    return name, subprocess.Popen(argv, start_new_session=True)  # noqa: S603 - our own argv


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


def main() -> int:
    host, port = os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "8000")
    url = f"http://{host}:{port}"
    python = sys.executable
    var = os.environ.get("TELLUS_VAR_DIR", "var")
    stopping: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda received, frame: stopping.append(received))

    server = [python, "-m", "uvicorn", "console.asgi:application", "--host", host]
    server += ["--port", port, "--lifespan", "off", "--no-proxy-headers", "--no-access-log"]
    worker = [python, "-m", "celery", "-A", "console", "worker", "--beat"]
    worker += ["--loglevel=WARNING", "--concurrency=2", f"--schedule={var}/celerybeat-schedule"]
    children = [spawn("server", server), spawn("worker", worker)]
    while not stopping and not healthy(url):
        if any(process.poll() is not None for _, process in children):
            break
        time.sleep(0.3)
    if not stopping and os.environ.get("SIMULATE", "1") not in {"0", "false", "no"}:
        chargers = os.environ.get("CHARGERS", "50")
        argv = [python, "manage.py", "simulate_fleet", "--base-url", url, "--chargers", chargers]
        argv += ["--provision", "--operator", "Demo Charging", "--sites", "3"]
        argv += ["--state-file", f"{var}/simulator.json"]
        scenarios = demo_scenarios(int(chargers))
        for scenario in scenarios:
            argv += ["--scenario", scenario]
        children.append(spawn("fleet", argv))
        shown = ", ".join(scenarios) or "none"
        print(f"  simulated fleet: {chargers} chargers; field cases: {shown}")
    print(f"\n  Tellus is running: console {url}/  API docs {url}/v1/docs  Ctrl-C stops.\n")
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
