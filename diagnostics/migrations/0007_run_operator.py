# A runbook run belongs to the operator that owned its charger when it started. Runs that
# exist are given today's owner of their charger (the best there is to go on); a charger on
# no site leaves its runs with none. Then one unfinished (open or paused) run of a runbook
# per charger becomes a constraint: duplicates left by concurrent starts or switches are
# closed first, all but the newest, with a move saying why.

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

BACKFILL = """
UPDATE diagnostics_runbookexecution
SET operator_id = (
    SELECT fleet_site.operator_id
    FROM fleet_device JOIN fleet_site ON fleet_site.site_id = fleet_device.site_id
    WHERE fleet_device.device_id = diagnostics_runbookexecution.device_id
)
WHERE operator_id IS NULL
"""


def close_duplicates(apps, schema_editor):
    RunbookExecution = apps.get_model("diagnostics", "RunbookExecution")
    unfinished = RunbookExecution.objects.filter(status__in=("open", "paused"))
    newest = set()
    for run in unfinished.order_by("-created_at", "-id").only(
        "pk", "device_id", "runbook_id", "status", "current_step", "moves", "outcome_note"
    ):
        key = (run.device_id, run.runbook_id)
        if key not in newest:
            newest.add(key)
            continue
        run.moves = [
            *(run.moves or []),
            {"step": run.current_step, "action": "close", "to": "closed",
             "why": "a newer run of this runbook was under way on the charger",
             "by": "platform", "at": timezone.now().isoformat()},
        ]  # fmt: skip
        run.status = "closed"
        run.outcome_note = "other: a newer run of this runbook was under way on the charger"
        run.save(update_fields=["moves", "status", "outcome_note"])


class Migration(migrations.Migration):
    dependencies = [
        ("diagnostics", "0006_runbook_run_id"),
        ("fleet", "0013_event_recent_faults"),
    ]

    operations = [
        migrations.AddField(
            model_name="runbookexecution",
            name="operator",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="runbook_runs",
                to="fleet.operator",
            ),
        ),
        migrations.AddIndex(
            model_name="runbookexecution",
            index=models.Index(fields=["operator", "-created_at"], name="run_operator_recent"),
        ),
        migrations.RunPython(close_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="runbookexecution",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", ("open", "paused"))),
                fields=("device", "runbook"),
                name="run_one_unfinished",
            ),
        ),
        # Last: on PostgreSQL, filling a deferred foreign key leaves trigger events pending
        # until the commit, and no index may be built on the table meanwhile.
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
