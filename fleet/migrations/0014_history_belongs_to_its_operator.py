"""A charger's history belongs to the operator (and site) it happened under.

Telemetry samples, events, charging records, connectivity changes and firmware updates
get the operator (and, where reports group by site, the site) owning the charger when
they were stored: written with every new fact from now on (fleet/models/stamps.py), and
back-filled here, once, from today's ownership (the only ownership known for the past):
one UPDATE … FROM per table, on PostgreSQL and SQLite alike.

The hourly peak rollup (SitePowerPeak, migration 0010) is rekeyed by the samples' own
stamps, operator, UTC hour and site, and rebuilt. Its triggers read the stamps of the
rows written instead of the chargers' current sites, so a charger or a site changing
hands moves nothing: the trigger that carried a moved charger's peaks to its new site,
and the telemetry SHARE lock it took (a deadlock risk against telemetry batches), are
gone. The rollup's triggers are dropped before the back-fill (which would otherwise run
them on every sample) and installed again after it.

DeviceOwnershipChange is the log of ownership changes.
"""

import importlib

import django.db.models.deletion
from django.db import migrations, models

PEAKS_0010 = importlib.import_module("fleet.migrations.0010_site_power_peak")

DROP_0010 = """
DROP TRIGGER IF EXISTS fleet_power_peak_moved ON fleet_device;
DROP TRIGGER IF EXISTS fleet_power_peak_cleared ON fleet_telemetrysample;
DROP TRIGGER IF EXISTS fleet_power_peak_edited ON fleet_telemetrysample;
DROP TRIGGER IF EXISTS fleet_power_peak_removed ON fleet_telemetrysample;
DROP TRIGGER IF EXISTS fleet_power_peak_added ON fleet_telemetrysample;
DROP FUNCTION IF EXISTS fleet_power_peak_moved();
DROP FUNCTION IF EXISTS fleet_power_peak_cleared();
DROP FUNCTION IF EXISTS fleet_power_peak_edited();
DROP FUNCTION IF EXISTS fleet_power_peak_removed();
DROP FUNCTION IF EXISTS fleet_power_peak_added();
DROP FUNCTION IF EXISTS fleet_power_peak_refresh(varchar[], timestamptz[]);
"""

# Today's owner of every charger on a site; the derived table keeps the statements the
# same on PostgreSQL and SQLite (3.33+: UPDATE … FROM).
_OWNERS = """(SELECT d.device_id AS device_id, d.site_id AS site_id, s.operator_id AS operator_id
  FROM fleet_device d JOIN fleet_site s ON s.site_id = d.site_id) AS owner"""


def _backfill(table: str, with_site: bool) -> str:
    site = ", site_id = owner.site_id" if with_site else ""
    return (
        f"UPDATE {table} SET operator_id = owner.operator_id{site} "  # noqa: S608
        f"FROM {_OWNERS} WHERE owner.device_id = {table}.device_id"
    )


BACKFILL = [
    _backfill("fleet_telemetrysample", True),
    _backfill("fleet_deviceevent", True),
    _backfill("fleet_chargingrecord", True),
    _backfill("fleet_connectivitychange", False),
    _backfill("fleet_firmwareupdate", False),
]


def backfill(apps, schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        for statement in BACKFILL:
            cursor.execute(statement)


# `date_trunc('hour', t, 'UTC')`: the UTC hour whatever the session's time zone. Every
# key comes from the samples' stamps; samples of no operator (a charger on no site) are
# nobody's and have no peaks.
INSTALL = """
CREATE FUNCTION fleet_power_peak_refresh(
    operator_ids varchar[], hours timestamptz[], site_ids varchar[]
) RETURNS void LANGUAGE plpgsql AS $$
-- Recompute the rows (operator_ids[i], hours[i], site_ids[i]) from their samples.
BEGIN
    IF operator_ids IS NULL OR cardinality(operator_ids) = 0 THEN
        RETURN;
    END IF;
    -- Lock the rows in key order first, as the insert trigger does, against deadlocks
    -- with a telemetry batch holding some of them.
    PERFORM 1 FROM fleet_sitepowerpeak p
    WHERE (p.operator_id, p.hour, p.site_id) IN (SELECT * FROM unnest(operator_ids, hours, site_ids))
    ORDER BY p.operator_id, p.hour, p.site_id FOR UPDATE;
    DELETE FROM fleet_sitepowerpeak p
    WHERE (p.operator_id, p.hour, p.site_id) IN (SELECT * FROM unnest(operator_ids, hours, site_ids));
    -- A new statement, a new snapshot: a batch committed meanwhile is seen here, and one
    -- still running raises the rows again after this (GREATEST), so no peak is lost.
    INSERT INTO fleet_sitepowerpeak (operator_id, hour, site_id, peak)
    SELECT t.operator_id, date_trunc('hour', t."timestamp", 'UTC'), t.site_id, MAX(ABS(t.power))
    FROM fleet_telemetrysample t
    WHERE t.operator_id = ANY(operator_ids)
      AND t."timestamp" >= (SELECT MIN(h) FROM unnest(hours) h)
      AND t."timestamp" < (SELECT MAX(h) FROM unnest(hours) h) + interval '1 hour'
      AND (t.operator_id, date_trunc('hour', t."timestamp", 'UTC'), t.site_id)
          IN (SELECT * FROM unnest(operator_ids, hours, site_ids))
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (operator_id, hour, site_id) DO UPDATE
        SET peak = GREATEST(fleet_sitepowerpeak.peak, EXCLUDED.peak)
        WHERE EXCLUDED.peak > fleet_sitepowerpeak.peak;
END $$;

CREATE FUNCTION fleet_power_peak_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The WHERE spares a write (and its WAL) when the hour's peak is already higher,
    -- which is most batches; the row is locked either way. In key order, so concurrent
    -- batches take the rows' locks in one order and cannot deadlock.
    INSERT INTO fleet_sitepowerpeak (operator_id, hour, site_id, peak)
    SELECT n.operator_id, date_trunc('hour', n."timestamp", 'UTC'), n.site_id, MAX(ABS(n.power))
    FROM added n
    WHERE n.operator_id IS NOT NULL AND n.site_id IS NOT NULL
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (operator_id, hour, site_id) DO UPDATE
        SET peak = GREATEST(fleet_sitepowerpeak.peak, EXCLUDED.peak)
        WHERE EXCLUDED.peak > fleet_sitepowerpeak.peak;
    RETURN NULL;
END $$;

CREATE TRIGGER fleet_power_peak_added
AFTER INSERT ON fleet_telemetrysample REFERENCING NEW TABLE AS added
FOR EACH STATEMENT EXECUTE FUNCTION fleet_power_peak_added();

CREATE FUNCTION fleet_power_peak_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Only an hour whose peak a removed sample could have been needs recomputing.
    PERFORM fleet_power_peak_refresh(
        array_agg(p.operator_id), array_agg(p.hour), array_agg(p.site_id)
    )
    FROM (
        SELECT o.operator_id, date_trunc('hour', o."timestamp", 'UTC') AS hour, o.site_id,
               MAX(ABS(o.power)) AS peak
        FROM removed o
        WHERE o.operator_id IS NOT NULL AND o.site_id IS NOT NULL
        GROUP BY 1, 2, 3
    ) gone
    JOIN fleet_sitepowerpeak p
      ON p.operator_id = gone.operator_id AND p.hour = gone.hour AND p.site_id = gone.site_id
    WHERE gone.peak >= p.peak;
    RETURN NULL;
END $$;

CREATE TRIGGER fleet_power_peak_removed
AFTER DELETE ON fleet_telemetrysample REFERENCING OLD TABLE AS removed
FOR EACH STATEMENT EXECUTE FUNCTION fleet_power_peak_removed();

CREATE FUNCTION fleet_power_peak_edited() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Rare (the admin): recompute every hour the rows were in before and after.
    PERFORM fleet_power_peak_refresh(array_agg(operator_id), array_agg(hour), array_agg(site_id))
    FROM (
        SELECT DISTINCT s.operator_id, date_trunc('hour', s."timestamp", 'UTC') AS hour, s.site_id
        FROM (SELECT operator_id, site_id, "timestamp" FROM old_rows
              UNION ALL SELECT operator_id, site_id, "timestamp" FROM new_rows) s
        WHERE s.operator_id IS NOT NULL AND s.site_id IS NOT NULL
    ) touched;
    RETURN NULL;
END $$;

CREATE TRIGGER fleet_power_peak_edited
AFTER UPDATE ON fleet_telemetrysample REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION fleet_power_peak_edited();

CREATE FUNCTION fleet_power_peak_cleared() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM fleet_sitepowerpeak;
    RETURN NULL;
END $$;

CREATE TRIGGER fleet_power_peak_cleared
AFTER TRUNCATE ON fleet_telemetrysample
FOR EACH STATEMENT EXECUTE FUNCTION fleet_power_peak_cleared();

-- The samples stored so far, as back-filled. After the triggers: the table is locked
-- against writers from CREATE TRIGGER on, so nothing slips between the two.
INSERT INTO fleet_sitepowerpeak (operator_id, hour, site_id, peak)
SELECT t.operator_id, date_trunc('hour', t."timestamp", 'UTC'), t.site_id, MAX(ABS(t.power))
FROM fleet_telemetrysample t
WHERE t.operator_id IS NOT NULL AND t.site_id IS NOT NULL
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;
"""

UNINSTALL = """
DROP TRIGGER fleet_power_peak_cleared ON fleet_telemetrysample;
DROP TRIGGER fleet_power_peak_edited ON fleet_telemetrysample;
DROP TRIGGER fleet_power_peak_removed ON fleet_telemetrysample;
DROP TRIGGER fleet_power_peak_added ON fleet_telemetrysample;
DROP FUNCTION fleet_power_peak_cleared();
DROP FUNCTION fleet_power_peak_edited();
DROP FUNCTION fleet_power_peak_removed();
DROP FUNCTION fleet_power_peak_added();
DROP FUNCTION fleet_power_peak_refresh(varchar[], timestamptz[], varchar[]);
"""

on_postgresql = PEAKS_0010.on_postgresql


def stamp(to: str) -> models.ForeignKey:
    return models.ForeignKey(
        blank=True,
        db_constraint=False,
        db_index=False,
        editable=False,
        null=True,
        on_delete=django.db.models.deletion.DO_NOTHING,
        related_name="+",
        to=to,
    )


def peak_key(to: str) -> models.ForeignKey:
    return models.ForeignKey(
        db_constraint=False,
        db_index=False,
        on_delete=django.db.models.deletion.DO_NOTHING,
        related_name="+",
        to=to,
    )


def named(to: str) -> models.ForeignKey:
    return models.ForeignKey(
        blank=True,
        null=True,
        on_delete=django.db.models.deletion.SET_NULL,
        related_name="+",
        to=to,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("fleet", "0013_event_recent_faults"),
    ]

    operations = [
        # The old rollup and its triggers go first: the back-fill must not run them.
        migrations.RunPython(on_postgresql(DROP_0010), on_postgresql(PEAKS_0010.INSTALL)),
        migrations.DeleteModel(name="SitePowerPeak"),
        migrations.CreateModel(
            name="SitePowerPeak",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("hour", models.DateTimeField()),
                ("peak", models.FloatField()),
                ("operator", peak_key("fleet.operator")),
                ("site", peak_key("fleet.site")),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("operator", "hour", "site"), name="power_peak_operator_hour_site"
                    )
                ],
            },
        ),
        migrations.AddField("telemetrysample", "operator", stamp("fleet.operator")),
        migrations.AddField("telemetrysample", "site", stamp("fleet.site")),
        migrations.AddField("deviceevent", "operator", stamp("fleet.operator")),
        migrations.AddField("deviceevent", "site", stamp("fleet.site")),
        migrations.AddField("chargingrecord", "operator", stamp("fleet.operator")),
        migrations.AddField("chargingrecord", "site", stamp("fleet.site")),
        migrations.AddField("connectivitychange", "operator", stamp("fleet.operator")),
        migrations.AddField("firmwareupdate", "operator", stamp("fleet.operator")),
        # Before the new indexes, so the back-fill does not maintain them row by row.
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RemoveIndex(model_name="chargingrecord", name="record_time"),
        migrations.AddIndex(
            model_name="chargingrecord",
            index=models.Index(fields=["operator", "-start_time"], name="record_operator_time"),
        ),
        migrations.AddIndex(
            model_name="telemetrysample",
            index=models.Index(fields=["operator", "timestamp"], name="telemetry_operator_time"),
        ),
        migrations.RemoveIndex(model_name="deviceevent", name="event_fault_code_time_device"),
        migrations.AddIndex(
            model_name="deviceevent",
            index=models.Index(
                condition=models.Q(("event_type", "fault")),
                fields=["fault_code", "timestamp"],
                include=("device", "operator"),
                name="event_fault_code_time_device",
            ),
        ),
        migrations.RemoveIndex(model_name="deviceevent", name="event_recent_faults"),
        migrations.AddIndex(
            model_name="deviceevent",
            index=models.Index(
                models.F("operator"),
                models.OrderBy(models.F("timestamp"), descending=True),
                models.OrderBy(models.F("id"), descending=True),
                condition=models.Q(("fault_code", ""), _negated=True),
                name="event_operator_recent_faults",
            ),
        ),
        migrations.CreateModel(
            name="DeviceOwnershipChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("operator_before_name", models.CharField(blank=True, max_length=200)),
                ("site_before_name", models.CharField(blank=True, max_length=200)),
                ("operator_after_name", models.CharField(blank=True, max_length=200)),
                ("site_after_name", models.CharField(blank=True, max_length=200)),
                ("via_site", models.BooleanField(default=False)),
                (
                    "actor",
                    models.CharField(
                        help_text="client:<id>, user:<name>, cli:<os user> or platform",
                        max_length=150,
                    ),
                ),
                ("at", models.DateTimeField(auto_now_add=True)),
                (
                    "device",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="ownership_changes",
                        to="fleet.device",
                    ),
                ),
                ("operator_after", named("fleet.operator")),
                ("operator_before", named("fleet.operator")),
                ("site_after", named("fleet.site")),
                ("site_before", named("fleet.site")),
            ],
            options={
                "ordering": ["-at", "-id"],
                "indexes": [
                    models.Index(fields=["device", "-at"], name="ownership_device_time"),
                    models.Index(
                        fields=["operator_before", "device"], name="ownership_former_owner"
                    ),
                ],
            },
        ),
        migrations.RunPython(on_postgresql(INSTALL), on_postgresql(UNINSTALL)),
    ]
