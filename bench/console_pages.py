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
AUDIT_ENTRIES = int(os.environ.get("BENCH_CONSOLE_AUDIT", "200000"))
ROUNDS = int(os.environ.get("BENCH_CONSOLE_ROUNDS", "100"))
# Fault events spread over the last 30 days: the size the diagnostics pages must serve.
FAULT_EVENTS = int(os.environ.get("BENCH_CONSOLE_FAULT_EVENTS", "1000000"))
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
        Actor.platform(), "Bench Charging", ["read", "write"]
    )
    sites = [
        provisioning.create_site(
            Actor.platform(), client.client_id, f"Site {n:03d}", power_capacity=500.0
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
    seed_audit(operator_id)
    seed_fault_history()
    busiest = devices[0]
    for n in range(200):
        from fleet.services.commands import queue_command

        queue_command(Actor.platform(operator_id), devices[n % 50], "start_charging", {})
    from diagnostics.services import detectors

    detectors.run_detector(detectors.repeat_fault, now)
    user, _ = create_console_user(
        Actor.platform(), "bench-admin", "Bench Charging", "admin", password="bench-pass-123"
    )
    run, escalated = seed_runs(devices, Actor.for_user(user, operator_id, None))
    with connection.cursor() as cursor:
        # What autovacuum does to a table after a bulk load, done now so that it does not
        # run during the measurements (and index-only reads find a current visibility map).
        cursor.execute("VACUUM (ANALYZE)")
    log(f"seeded in {time.monotonic() - started:.0f} s")
    return {
        "user": user, "site": sites[0], "device": busiest, "operator_id": operator_id,
        "run": run.run_id, "escalated": escalated.run_id,
    }  # fmt: skip


def seed_runs(devices: list, actor) -> tuple:
    """2,000 finished runs for the list, and two carried through the engine as an engineer
    would: one at its third step with check results, one escalated."""
    from diagnostics.models import Runbook, RunbookExecution
    from diagnostics.services.runbooks import engine

    runbook = Runbook.objects.get(slug="charger-faulting-on-power-up")
    RunbookExecution.objects.bulk_create(
        [
            RunbookExecution(
                device_id=devices[n % len(devices)].device_id, runbook=runbook,
                operator_id=actor.operator_id,
                status=RunbookExecution.Status.RESOLVED, current_step="reboot",
                started_by="bench", run_id=f"run_{n:016x}",
            )
            for n in range(2000)
        ],
        batch_size=1000,
    )  # fmt: skip
    carried = []
    for device in devices[1:3]:
        run = engine.start_run(actor, device, runbook.slug)
        engine.act_on_step(actor, run, "supply-power", "choose", choice="supply-ok")
        run.refresh_from_db()
        engine.act_on_step(actor, run, run.current_step, "verify")
        run = engine.act_on_step(actor, run, run.current_step, "continue")
        if run.status == "open" and run.runbook.step(run.current_step).get("check"):
            engine.act_on_step(actor, run, run.current_step, "verify")
        carried.append(run)
    engine.escalate(actor, carried[1], note="bench")
    return carried[0], carried[1]


def seed_audit(operator_id: str) -> None:
    """The operator's audit trail: people, API clients and the platform changing chargers,
    sites, alerts and runs, one entry a minute back from now."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO fleet_auditentry (operator_id, actor, action, resource_type,
                resource_id, details, before, after, ip, at)
            SELECT %s,
                   CASE WHEN n %% 10 = 0 THEN 'platform'
                        WHEN n %% 10 < 3 THEN 'client:cli_bench' || (n %% 3)
                        ELSE 'user:bench-' || (n %% 40) END,
                   (ARRAY['update', 'create', 'execute_command', 'acknowledge_alert', 'login',
                          'start_runbook', 'step_result', 'delete'])[1 + n %% 8],
                   (ARRAY['device', 'site', 'alert', 'runbook_run', 'user'])[1 + n %% 5],
                   'dvc_cb' || lpad((n %% %s)::text, 10, '0'),
                   jsonb_build_object('note', 'bench entry ' || n),
                   '{"status": "open"}'::jsonb, '{"status": "acknowledged"}'::jsonb,
                   '192.0.2.10', now() - make_interval(mins => n)
            FROM generate_series(1, %s) n
            """,
            [operator_id, DEVICES, AUDIT_ENTRIES],
        )


def seed_fault_history() -> None:
    """For the fault pages: F-0421 four times on every fifth charger in the last two days
    (firmware 3.0.1, inside its known issue's range, on one in seven of them), two codes
    the dictionary lacks, and FAULT_EVENTS more fault events over 30 days."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO fleet_deviceevent (device_id, connector_id, event_type, "timestamp",
                received_at, claimed_timestamp, data, fault_code, source)
            SELECT 'dvc_cb' || lpad(d::text, 10, '0'), 1, 'fault',
                   now() - make_interval(hours => e * 11), now(), '', '{}'::jsonb,
                   CASE WHEN e < 4 THEN 'F-0421' ELSE (ARRAY['1001', 'E-77'])[1 + d %% 2] END,
                   'charger'
            FROM generate_series(0, %s - 1, 5) d, generate_series(0, 4) e
            """,
            [DEVICES],
        )
        cursor.execute(
            """
            INSERT INTO fleet_deviceevent (device_id, connector_id, event_type, "timestamp",
                received_at, claimed_timestamp, data, fault_code, source)
            SELECT 'dvc_cb' || lpad((g %% %s)::text, 10, '0'), 1, 'fault',
                   now() - make_interval(secs => (g * 2592000.0 / %s)::int), now(), '',
                   '{}'::jsonb,
                   (ARRAY['F-0421', 'F-0411', 'F-0204', 'F-0702', 'F-0301', 'F-0203',
                          'F-0101', 'F-0512', '1001', 'E-77'])[1 + (g / 7) %% 10],
                   'charger'
            FROM generate_series(0, %s - 1) g
            """,
            [DEVICES, max(FAULT_EVENTS, 1), FAULT_EVENTS],
        )
        # What autovacuum does to an append-only table in service: the fault pages read
        # their index alone only where the visibility map says the rows are all visible.
        cursor.execute("VACUUM (ANALYZE) fleet_deviceevent")


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
        ("Runbooks", "/runbooks/", {}),
        ("Runbook procedure", "/runbooks/charger-faulting-on-power-up/", {}),
        ("Runs (2,000)", "/runs/", {}),
        ("A run in progress (checks with evidence)", f"/runs/{fleet['run']}/", {}),
        ("Escalation checklist", f"/runs/{fleet['escalated']}/escalation/", {}),
        ("Fault dictionary", "/faults/", {}),
        ("Faults: search (HTMX)", "/faults/?q=contactor&severity=error", htmx),
        ("Fault entry F-0421 (fleet context, firmware chart)", "/faults/F-0421/", {}),
        ("Undocumented fault codes", "/faults/undocumented/", {}),
        (f"Audit log ({AUDIT_ENTRIES:,} entries)", "/audit/", {}),
        ("Audit: one person, one action (HTMX)", "/audit/?actor=bench-7&action=delete", htmx),
        (
            "Audit: one charger's entries (HTMX)",
            f"/audit/?subject_type=device&subject_id={device}",
            htmx,
        ),
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
samples, {min(DEVICES, 2000) * 5 + -(-DEVICES // 5) * 5 + FAULT_EVENTS:,} fault events, 200 commands and the alerts the repeat-fault detector opened
from them, and {AUDIT_ENTRIES:,} audit entries. Each page is fetched {ROUNDS} times after 3 unmeasured fetches, through the
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
    fleet = seed()
    from console.heap import settle_heap

    settle_heap()  # as the server does once loaded (console/asgi.py)
    rows = measure(fleet)
    print(write(rows))
    return rows


if __name__ == "__main__":
    console_bench()
