"""Fault entries carry the documentation's firmware statement when it is scoped (for
example, no issue known from one build onwards; decision: firmware-statement)."""

import hashlib
import json

from django.db import migrations, models

# FaultCode.CONTENT_FIELDS before firmware_statement existed: what loaded_digest was
# computed on.
OLD_FAULT_FIELDS = (
    "title", "severity", "category", "source", "description", "symptoms", "likely_causes",
    "diagnostic_steps", "related_telemetry", "related_commands", "known_firmware_issues",
    "thresholds",
)  # fmt: skip


def _digest(content):
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def carry_fault_digests(apps, schema_editor):
    """An entry still holding what the last load wrote gets that digest recomputed with
    the new (empty) statement, so the next load updates it from the file instead of
    taking it for an admin edit and keeping it; an edited entry stays an edit."""
    FaultCode = apps.get_model("diagnostics", "FaultCode")
    for fault in FaultCode.objects.all():
        old = {name: getattr(fault, name) for name in OLD_FAULT_FIELDS}
        if _digest(old) == fault.loaded_digest:
            fault.loaded_digest = _digest({**old, "firmware_statement": ""})
            fault.save(update_fields=["loaded_digest"])


class Migration(migrations.Migration):
    dependencies = [("diagnostics", "0007_run_operator")]

    operations = [
        migrations.AddField(
            model_name="faultcode",
            name="firmware_statement",
            field=models.TextField(
                blank=True,
                help_text="One or two sentences, when the documentation scopes its firmware "
                "statement (e.g. “No issue known from firmware 260420.0107 onwards; older "
                "builds are not documented.”). Leave empty when it says plainly that none "
                "are known.",
            ),
        ),
        migrations.RunPython(carry_fault_digests, migrations.RunPython.noop),
    ]
