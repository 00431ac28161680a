"""An index for the console's fault pages: the fault events of a code since a time, with
the charger that raised each, read from the index alone (device_id is included), and the
distinct codes found by skipping through it. Partial: only fault events carry codes that
matter there."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("fleet", "0011_audit_filter_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="deviceevent",
            index=models.Index(
                condition=models.Q(("event_type", "fault")),
                fields=["fault_code", "timestamp"],
                include=("device",),
                name="event_fault_code_time_device",
            ),
        ),
    ]
