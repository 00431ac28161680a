from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("console", "0001_operator_member")]

    operations = [
        migrations.AddField(
            model_name="operatormember",
            name="role",
            # Memberships from before roles: least privilege, an admin raises them.
            field=models.CharField(
                choices=[
                    ("viewer", "Viewer"),
                    ("engineer", "Engineer"),
                    ("operator", "Operator"),
                    ("admin", "Admin"),
                ],
                default="viewer",
                max_length=16,
            ),
        ),
    ]
