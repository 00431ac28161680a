"""The hourly peak-power rollup of each site (SitePowerPeak), kept by PostgreSQL triggers.

The energy report's `max_power` reads whole UTC hours from the rollup instead of
scanning every telemetry sample of its window (fleet/services/energy.py). A row holds the
highest |power| of any sample of the site's chargers in that hour; the triggers keep it
exact whatever writes the samples (the ORM, the fast path's batches, COPY, the admin):

- a statement inserting samples raises its (site, hour) rows to the batch's peaks, in
  key order so concurrent batches take the rows' locks in one order and cannot deadlock;
- a statement deleting or editing samples recomputes the (site, hour) rows they could
  have set (deleting a charger deletes its samples first: its peaks leave its site);
- a charger changing site takes its peaks along: the new site's rows are raised, the
  old site's hours the charger could have set are recomputed from the others (holding
  telemetry writes for the moment, so none is counted at the old site);
- emptying the sample table (TRUNCATE) empties the rollup.

SQLite installs get the table but no triggers: the Python reference computes peaks from
the samples there.
"""

import django.db.models.deletion
from django.db import migrations, models

# `date_trunc('hour', t, 'UTC')`: the UTC hour whatever the session's time zone.
INSTALL = """
CREATE FUNCTION fleet_power_peak_refresh(site_ids varchar[], hours timestamptz[])
RETURNS void LANGUAGE plpgsql AS $$
-- Recompute the rows (site_ids[i], hours[i]) from the samples of the sites' chargers.
BEGIN
    IF site_ids IS NULL OR cardinality(site_ids) = 0 THEN
        RETURN;
    END IF;
    -- Lock the rows in key order first, as the insert trigger does, against deadlocks
    -- with a telemetry batch holding some of them (one creating a row this refresh then
    -- recreates can still meet it the other way round: rare, and PostgreSQL aborts one).
    PERFORM 1 FROM fleet_sitepowerpeak p
    WHERE (p.site_id, p.hour) IN (SELECT * FROM unnest(site_ids, hours))
    ORDER BY p.site_id, p.hour FOR UPDATE;
    DELETE FROM fleet_sitepowerpeak p
    WHERE (p.site_id, p.hour) IN (SELECT * FROM unnest(site_ids, hours));
    -- A new statement, a new snapshot: a batch committed meanwhile is seen here, and one
    -- still running raises the rows again after this (GREATEST), so no peak is lost.
    INSERT INTO fleet_sitepowerpeak (site_id, hour, peak)
    SELECT d.site_id, date_trunc('hour', t."timestamp", 'UTC'), MAX(ABS(t.power))
    FROM fleet_device d
    JOIN fleet_telemetrysample t ON t.device_id = d.device_id
    WHERE d.site_id = ANY(site_ids)
      AND t."timestamp" >= (SELECT MIN(h) FROM unnest(hours) h)
      AND t."timestamp" < (SELECT MAX(h) FROM unnest(hours) h) + interval '1 hour'
      AND (d.site_id, date_trunc('hour', t."timestamp", 'UTC'))
          IN (SELECT * FROM unnest(site_ids, hours))
    GROUP BY 1, 2
    ORDER BY 1, 2
    ON CONFLICT (site_id, hour) DO UPDATE
        SET peak = GREATEST(fleet_sitepowerpeak.peak, EXCLUDED.peak)
        WHERE EXCLUDED.peak > fleet_sitepowerpeak.peak;
END $$;

CREATE FUNCTION fleet_power_peak_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The WHERE spares a write (and its WAL) when the hour's peak is already higher,
    -- which is most batches; the row is locked either way.
    INSERT INTO fleet_sitepowerpeak (site_id, hour, peak)
    SELECT d.site_id, date_trunc('hour', n."timestamp", 'UTC'), MAX(ABS(n.power))
    FROM added n
    JOIN fleet_device d ON d.device_id = n.device_id
    WHERE d.site_id IS NOT NULL
    GROUP BY 1, 2
    ORDER BY 1, 2
    ON CONFLICT (site_id, hour) DO UPDATE
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
    PERFORM fleet_power_peak_refresh(array_agg(p.site_id), array_agg(p.hour))
    FROM (
        SELECT d.site_id, date_trunc('hour', o."timestamp", 'UTC') AS hour,
               MAX(ABS(o.power)) AS peak
        FROM removed o
        JOIN fleet_device d ON d.device_id = o.device_id
        WHERE d.site_id IS NOT NULL
        GROUP BY 1, 2
    ) gone
    JOIN fleet_sitepowerpeak p ON p.site_id = gone.site_id AND p.hour = gone.hour
    WHERE gone.peak >= p.peak;
    RETURN NULL;
END $$;

CREATE TRIGGER fleet_power_peak_removed
AFTER DELETE ON fleet_telemetrysample REFERENCING OLD TABLE AS removed
FOR EACH STATEMENT EXECUTE FUNCTION fleet_power_peak_removed();

CREATE FUNCTION fleet_power_peak_edited() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Rare (the admin): recompute every hour the rows were in before and after.
    PERFORM fleet_power_peak_refresh(array_agg(site_id), array_agg(hour))
    FROM (
        SELECT DISTINCT d.site_id, date_trunc('hour', s."timestamp", 'UTC') AS hour
        FROM (SELECT device_id, "timestamp" FROM old_rows
              UNION ALL SELECT device_id, "timestamp" FROM new_rows) s
        JOIN fleet_device d ON d.device_id = s.device_id
        WHERE d.site_id IS NOT NULL
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

CREATE FUNCTION fleet_power_peak_moved() RETURNS trigger LANGUAGE plpgsql AS $$
-- Samples count toward their charger's current site: moving it moves its peaks.
BEGIN
    -- Wait for the telemetry batches in flight and hold new ones until this commits (a
    -- move is rare and short): a batch that read the charger's old site has committed
    -- and is seen below, one that comes after reads the new site. Without it a sample
    -- written during the move could stay counted in the old site's hour.
    LOCK TABLE fleet_telemetrysample IN SHARE MODE;
    IF NEW.site_id IS NOT NULL THEN
        INSERT INTO fleet_sitepowerpeak (site_id, hour, peak)
        SELECT NEW.site_id, date_trunc('hour', t."timestamp", 'UTC'), MAX(ABS(t.power))
        FROM fleet_telemetrysample t
        WHERE t.device_id = NEW.device_id
        GROUP BY 1, 2
        ORDER BY 1, 2
        ON CONFLICT (site_id, hour) DO UPDATE
            SET peak = GREATEST(fleet_sitepowerpeak.peak, EXCLUDED.peak)
            WHERE EXCLUDED.peak > fleet_sitepowerpeak.peak;
    END IF;
    IF OLD.site_id IS NOT NULL THEN
        PERFORM fleet_power_peak_refresh(array_agg(p.site_id), array_agg(p.hour))
        FROM (
            SELECT date_trunc('hour', t."timestamp", 'UTC') AS hour, MAX(ABS(t.power)) AS peak
            FROM fleet_telemetrysample t
            WHERE t.device_id = NEW.device_id
            GROUP BY 1
        ) mine
        JOIN fleet_sitepowerpeak p ON p.site_id = OLD.site_id AND p.hour = mine.hour
        WHERE mine.peak >= p.peak;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER fleet_power_peak_moved
AFTER UPDATE OF site_id ON fleet_device
FOR EACH ROW WHEN (OLD.site_id IS DISTINCT FROM NEW.site_id)
EXECUTE FUNCTION fleet_power_peak_moved();

-- The samples stored so far. After the triggers: the table is locked against writers
-- from CREATE TRIGGER on, so nothing slips between the two.
INSERT INTO fleet_sitepowerpeak (site_id, hour, peak)
SELECT d.site_id, date_trunc('hour', t."timestamp", 'UTC'), MAX(ABS(t.power))
FROM fleet_telemetrysample t
JOIN fleet_device d ON d.device_id = t.device_id
WHERE d.site_id IS NOT NULL
GROUP BY 1, 2
ORDER BY 1, 2;
"""

UNINSTALL = """
DROP TRIGGER fleet_power_peak_moved ON fleet_device;
DROP TRIGGER fleet_power_peak_cleared ON fleet_telemetrysample;
DROP TRIGGER fleet_power_peak_edited ON fleet_telemetrysample;
DROP TRIGGER fleet_power_peak_removed ON fleet_telemetrysample;
DROP TRIGGER fleet_power_peak_added ON fleet_telemetrysample;
DROP FUNCTION fleet_power_peak_moved();
DROP FUNCTION fleet_power_peak_cleared();
DROP FUNCTION fleet_power_peak_edited();
DROP FUNCTION fleet_power_peak_removed();
DROP FUNCTION fleet_power_peak_added();
DROP FUNCTION fleet_power_peak_refresh(varchar[], timestamptz[]);
"""


def on_postgresql(sql: str):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            # A cursor of its own: no parameters, so several statements in one go.
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("fleet", "0009_used_signatures"),
    ]

    operations = [
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
                (
                    "site",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="fleet.site",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("site", "hour"), name="site_power_peak_hour")
                ],
            },
        ),
        migrations.RunPython(on_postgresql(INSTALL), on_postgresql(UNINSTALL)),
    ]
