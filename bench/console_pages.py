"""Console render times at size: 10,000 chargers on 100 sites with 1,000,000 telemetry
samples (plus events, commands, records and alerts), each main page and fragment fetched
through the whole Django stack in process, p50 / p99 of the server time.

Run on its own (its own database, tellus_bench_console):

    .venv/bin/python -m bench.console_pages

`make bench` runs it last. Results go to bench/results-console.md.
"""

import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "tellus_bench_console"
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DEVICES = int(os.environ.get("BENCH_CONSOLE_DEVICES", "10000"))
SITES = int(os.environ.get("BENCH_CONSOLE_SITES", "100"))
SAMPLES = int(os.environ.get("BENCH_CONSOLE_SAMPLES", "1000000"))
ROUNDS = int(os.environ.get("BENCH_CONSOLE_ROUNDS", "40"))
BUDGET_MS = 200
RESULTS = ROOT / "bench" / "results-console.md"


def log(message: str) -> None:
    print(f"[bench console] {message}", flush=True)


def prepare() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    env = {**os.environ, "DATABASE_URL": f"{PG}/{DB_NAME}", "TELLUS_PLAIN_HTTP": "true"}
    env.pop("REDIS_URL", None)  # render times only: no live layer needed
    os.environ.clear()
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "console.settings"
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def seed() -> dict:
    """The fleet, written in bulk (SQL for the samples): what the pages read, at size."""
    from django.db import connection
    from django.utils import timezone

    from console.web.services.people import create_console_user
    from diagnostics.services.loader import load_faults, load_runbooks
    from fleet.actors import Actor
    from fleet.models import Connector, Device
    from fleet.services import provisioning

    started = time.monotonic()
    load_faults()
    load_runbooks()
    client, _ = provisioning.create_operator_client(
        "Bench Charging", ["read", "write"], actor=Actor.platform()
    )
    sites = [
        provisioning.create_site(
            client.client_id, f"Site {n:03d}", power_capacity=500.0, actor=Actor.platform()
        )
        for n in range(SITES)
    ]
    now = timezone.now()
    devices = [
        Device(
            device_id=f"dvc_cb{n:010d}",
            sn=f"CB-{n:07d}",
            model="TP-DC180" if n % 3 else "TP-AC22",
            manufacturer="Tellus Power",
            firmware_version="3.0.1" if n % 7 == 0 else "3.1.0",
            secret_hash="sha256$unused",
            secret_expires_at=now.replace(year=now.year + 1),
            status=Device.Status.ONLINE if n % 10 else Device.Status.OFFLINE,
            last_heartbeat=now,
            site=sites[n % SITES],
        )
        for n in range(DEVICES)
    ]
    Device.objects.bulk_create(devices, batch_size=2000)
    states = ["charging", "idle", "preparing", "fault"]
    Connector.objects.bulk_create(
        [
            Connector(
                device_id=d.device_id,
                connector_id=c,
                state=states[(i + c) % 4],
                power=11.0 * c,
                voltage=400.0,
                current=27.5,
                energy_delivered=4.2,
                soc=50,
                temperature=30.0,
                last_telemetry_time=now,
            )
            for i, d in enumerate(devices)
            for c in (1, 2)
        ],
        batch_size=4000,
    )
    per_device = max(1, SAMPLES // DEVICES)
    with connection.cursor() as cursor:
        # Samples every 30 s back from now, per connector alternately.
        cursor.execute(
            """
            INSERT INTO fleet_telemetrysample (device_id, connector_id, "timestamp", received_at,
                state, voltage, current, power, energy_delivered, soc, temperature)
            SELECT 'dvc_cb' || lpad(d::text, 10, '0'), 1 + (s %% 2),
                   now() - make_interval(secs => s * 30), now(), 'charging',
                   400, 27.5, 5 + (s %% 40), s * 0.01, 50, 30
            FROM generate_series(0, %s - 1) d, generate_series(0, %s - 1) s
            """,
            [DEVICES, per_device],
        )
        # A fault history, commands and records on the first chargers of each site.
        cursor.execute(
            """
            INSERT INTO fleet_deviceevent (device_id, connector_id, event_type, "timestamp",
                received_at, claimed_timestamp, data, fault_code, source)
            SELECT 'dvc_cb' || lpad(d::text, 10, '0'), 1, 'fault',
                   now() - make_interval(mins => e * 7), now(), '', '{}'::jsonb,
                   (ARRAY['F-0411','F-0204','F-0702','F-0301'])[1 + e %% 4], 'charger'
            FROM generate_series(0, %s - 1) d, generate_series(0, 4) e
            """,
            [min(DEVICES, 2000)],
        )
    operator_id = client.operator_id
    busiest = devices[0]
    for n in range(200):
        from fleet.services.commands import queue_command

        queue_command(devices[n % 50], "start_charging", {}, actor=Actor.platform(operator_id))
    from diagnostics.services import detectors

    detectors.run_detector(detectors.repeat_fault, now)
    user, _ = create_console_user(
        "bench-admin", "Bench Charging", "admin", password="bench-pass-123", actor=Actor.platform()
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    log(f"seeded in {time.monotonic() - started:.0f} s")
    return {"user": user, "site": sites[0], "device": busiest, "operator_id": operator_id}


def measure(fleet: dict) -> list[dict]:
    from django.db import connection
    from django.test import Client

    browser = Client()
    browser.force_login(fleet["user"])
    device, site = fleet["device"].device_id, fleet["site"].site_id
    htmx = {"HTTP_HX_REQUEST": "true"}
    pages = [
        ("Fleet", "/", {}),
        ("Fleet: device table, search (HTMX)", "/?q=CB-00012", htmx),
        ("Fleet: device table, faulted, page 3 (HTMX)", "/?status=faulted&page=3", htmx),
        (f"Site ({DEVICES // SITES} chargers)", f"/sites/{site}/", {}),
        ("Device (15 min chart, events, commands)", f"/devices/{device}/", {}),
        ("Alerts inbox", "/alerts/", {}),
        ("Alerts: all, high (HTMX)", "/alerts/?status=all&severity=high", htmx),
        ("Commands", "/commands/", {}),
        ("Records", "/records/", {}),
        ("Energy, daily, 30 days", "/energy/?granularity=day", {}),
        ("People", "/people/", {}),
    ]
    rows = []
    for label, path, headers in pages:
        for _ in range(3):  # warm: template cache, plans
            assert browser.get(path, **headers).status_code == 200, path
        times = []
        # Counted by a wrapper: the query log is reset at each request's start.
        queries: list[str] = []
        with connection.execute_wrapper(counting(queries)):
            browser.get(path, **headers)
        for _ in range(ROUNDS):
            started = time.perf_counter()
            response = browser.get(path, **headers)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        times.sort()
        row = {
            "page": label,
            "path": path,
            "p50_ms": statistics.median(times),
            "p99_ms": times[min(len(times) - 1, round(0.99 * (len(times) - 1)))],
            "queries": len(queries),
        }
        rows.append(row)
        log(
            f"{label}: p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms, {row['queries']} queries"
        )
    return rows


def counting(queries: list[str]):
    def wrapper(run, sql, *args):
        queries.append(sql)
        return run(sql, *args)

    return wrapper


def write(rows: list[dict]) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    table = "\n".join(
        f"| {r['page']} | `{r['path']}` | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['queries']} "
        f"| {'yes' if r['p99_ms'] < BUDGET_MS else 'no'} |"
        for r in rows
    )
    text = f"""# Console render times

Produced by `python -m bench.console_pages` on {when}; {os.cpu_count()} cores. The database
holds {DEVICES:,} chargers on {SITES} sites (2 connectors each), {SAMPLES:,} telemetry
samples, {min(DEVICES, 2000) * 5:,} fault events, 200 commands and the alerts the repeat-fault detector opened
from them. Each page is fetched {ROUNDS} times after 3 unmeasured fetches, through the
whole Django stack in process (middleware, session, templates), signed in as the
operator's admin; times are the server's, without network or browser.

| Page | Path | p50 (ms) | p99 (ms) | Queries | p99 under {BUDGET_MS} ms |
|---|---|---:|---:|---:|---|
{table}
"""
    RESULTS.write_text(text)
    return text


def console_bench() -> list[dict]:
    prepare()
    rows = measure(seed())
    print(write(rows))
    return rows


if __name__ == "__main__":
    console_bench()
