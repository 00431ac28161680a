# A public id for runbook runs, the moves a run made (why each branch was taken) (the API and console address runs by it, never by the
# database's row number), filled in for runs that exist.

from django.db import migrations, models

import fleet.ids


def fill_run_ids(apps, schema_editor):
    RunbookExecution = apps.get_model("diagnostics", "RunbookExecution")
    for run in RunbookExecution.objects.filter(run_id__isnull=True).only("pk"):
        run.run_id = fleet.ids.new_run_id()
        run.save(update_fields=["run_id"])


class Migration(migrations.Migration):
    dependencies = [("diagnostics", "0005_alert_facts"), ("fleet", "__first__")]

    operations = [
        migrations.AddField(
            model_name="runbookexecution",
            name="run_id",
            field=models.CharField(max_length=40, null=True, editable=False),
        ),
        migrations.RunPython(fill_run_ids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="runbookexecution",
            name="run_id",
            field=models.CharField(
                default=fleet.ids.new_run_id, editable=False, max_length=40, unique=True
            ),
        ),
        migrations.AddField(
            model_name="runbookexecution",
            name="moves",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddIndex(
            model_name="runbookexecution",
            index=models.Index(fields=["device", "-created_at"], name="run_device_recent"),
        ),
    ]
