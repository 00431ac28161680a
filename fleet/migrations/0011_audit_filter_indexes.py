"""An index per filter of the console's audit page (actor, action, subject type, subject
id), each after the operator and ending with the time so a filtered page of the newest
entries reads its index in order, however long the trail."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("fleet", "0010_site_power_peak"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="auditentry",
            index=models.Index(
                fields=["operator", "actor", "-at"], name="audit_operator_actor_time"
            ),
        ),
        migrations.AddIndex(
            model_name="auditentry",
            index=models.Index(
                fields=["operator", "action", "-at"], name="audit_operator_action_time"
            ),
        ),
        migrations.AddIndex(
            model_name="auditentry",
            index=models.Index(
                fields=["operator", "resource_type", "-at"], name="audit_operator_type_time"
            ),
        ),
        migrations.AddIndex(
            model_name="auditentry",
            index=models.Index(
                fields=["operator", "resource_id", "-at"], name="audit_operator_subject_time"
            ),
        ),
    ]
