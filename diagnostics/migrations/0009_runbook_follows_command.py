"""A runbook about one command of the charger names that command's type (follows_command):
a run of it follows such a command."""

import hashlib
import json

from django.db import migrations, models

# Runbook.CONTENT_FIELDS before follows_command existed: what loaded_digest was computed on.
OLD_RUNBOOK_FIELDS = (
    "title", "applicable_models", "symptom", "linked_fault_codes", "triggers",
    "escalation_target", "escalation_checklist", "steps", "suggest_when",
)  # fmt: skip


def _digest(content):
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def carry_runbook_digests(apps, schema_editor):
    """A runbook still holding what the last load wrote gets that digest recomputed with
    the new (empty) follows_command, so the next load updates it instead of taking it for
    an admin edit and keeping it."""
    Runbook = apps.get_model("diagnostics", "Runbook")
    for runbook in Runbook.objects.all():
        old = {name: getattr(runbook, name) for name in OLD_RUNBOOK_FIELDS}
        if _digest(old) == runbook.loaded_digest:
            runbook.loaded_digest = _digest({**old, "follows_command": ""})
            runbook.save(update_fields=["loaded_digest"])


class Migration(migrations.Migration):
    dependencies = [("diagnostics", "0008_fault_firmware_statement")]

    operations = [
        migrations.AddField(
            model_name="runbook",
            name="follows_command",
            field=models.CharField(
                blank=True,
                max_length=40,
                help_text="For a runbook about one command of the charger: that command's "
                "type (e.g. discharge). A run of it follows such a command.",
            ),
        ),
        migrations.RunPython(carry_runbook_digests, migrations.RunPython.noop),
    ]
