"""Runbooks declare their ranking rules (suggest_when)."""

import hashlib
import json

from django.db import migrations, models

# Runbook.CONTENT_FIELDS before suggest_when existed: what loaded_digest was computed on.
OLD_RUNBOOK_FIELDS = (
    "title", "applicable_models", "symptom", "linked_fault_codes", "triggers",
    "escalation_target", "escalation_checklist", "steps",
)  # fmt: skip


def _digest(content):
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def carry_runbook_digests(apps, schema_editor):
    """A runbook still holding what the last load wrote gets that digest recomputed with
    the new (empty) suggest_when, so the next load updates it instead of taking it for an
    admin edit and keeping it."""
    Runbook = apps.get_model("diagnostics", "Runbook")
    for runbook in Runbook.objects.all():
        old = {name: getattr(runbook, name) for name in OLD_RUNBOOK_FIELDS}
        if _digest(old) == runbook.loaded_digest:
            runbook.loaded_digest = _digest({**old, "suggest_when": []})
            runbook.save(update_fields=["loaded_digest"])


class Migration(migrations.Migration):
    dependencies = [("diagnostics", "0003_alerts")]

    operations = [
        migrations.AddField(
            model_name="runbook",
            name="suggest_when",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="Ranking rules: [{device_status | connector_state | recent_command | open_alert: [values], score}]; see diagnostics/data/runbooks.yaml.",
            ),
        ),
        migrations.RunPython(carry_runbook_digests, migrations.RunPython.noop),
    ]
