"""Alerts count facts, not sweeps, and remember what a close covered."""

import django.db.models.deletion
from django.db import migrations, models


def backfill_alerts(apps, schema_editor):
    """Existing alerts cover what they saw from their first detection; a closed one was
    closed when it last changed (only people change closed alerts)."""
    Alert = apps.get_model("diagnostics", "Alert")
    Alert.objects.update(window_start=models.F("first_seen"))
    Alert.objects.filter(status__in=["resolved", "dismissed"]).update(
        closed_at=models.F("updated_at")
    )


class Migration(migrations.Migration):
    dependencies = [("diagnostics", "0004_runbook_suggest_when")]

    operations = [
        migrations.RenameField(model_name="alert", old_name="detections", new_name="fact_count"),
        migrations.AlterField(
            model_name="alert",
            name="fact_count",
            field=models.PositiveIntegerField(
                default=1,
                help_text="Distinct facts covered (events, samples, devices, commands).",
            ),
        ),
        migrations.AlterField(
            model_name="alert",
            name="first_seen",
            field=models.DateTimeField(help_text="Time of the oldest fact covered."),
        ),
        migrations.AlterField(
            model_name="alert",
            name="last_seen",
            field=models.DateTimeField(help_text="Time of the newest fact covered."),
        ),
        migrations.AddField(
            model_name="alert",
            name="window_start",
            field=models.DateTimeField(
                null=True, help_text="Facts timed before this are not covered."
            ),
        ),
        migrations.AddField(
            model_name="alert",
            name="facts_received_after",
            field=models.DateTimeField(
                blank=True,
                null=True,
                help_text="Facts received up to this belong to the subject's previous, closed alert.",
            ),
        ),
        migrations.AddField(
            model_name="alert",
            name="previous",
            field=models.ForeignKey(
                blank=True,
                help_text="The subject's previous alert, closed before this one opened.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="recurrences",
                to="diagnostics.alert",
            ),
        ),
        migrations.AddField(
            model_name="alert",
            name="closed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="alert",
            name="snoozed_until",
            field=models.DateTimeField(
                blank=True,
                null=True,
                help_text="Dismissed with a snooze: no new alert before this.",
            ),
        ),
        migrations.RunPython(backfill_alerts, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="alert",
            name="window_start",
            field=models.DateTimeField(help_text="Facts timed before this are not covered."),
        ),
    ]
