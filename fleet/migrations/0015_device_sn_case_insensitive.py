"""Serial numbers are unique regardless of letter case (`ABC123` is `abc123`).

Chargers already registered under serials that differ only in case would make the index
fail: the migration stops first and names them, for staff to decide which registration
is the real charger's and release the others (`manage.py release_serial`). Nothing is
deleted here.
"""

from django.core.management.base import CommandError
from django.db import migrations, models
from django.db.models import Count
from django.db.models.functions import Upper

SHOWN = 50


def refuse_case_variant_serials(apps, schema_editor):
    Device = apps.get_model("fleet", "Device")
    # Grouped by the index's own expression, so what is named here is what it would refuse.
    keys = (
        Device.objects.annotate(key=Upper("sn"))
        .values("key")
        .annotate(n=Count("device_id"))
        .filter(n__gt=1)
        .order_by("key")
        .values_list("key", flat=True)
    )
    clashes = list(keys[: SHOWN + 1])
    if not clashes:
        return
    devices = (
        Device.objects.annotate(key=Upper("sn"))
        .filter(key__in=clashes[:SHOWN])
        .order_by("key", "registered_at", "device_id")
    )
    lines = [
        f"  sn '{device.sn}': {device.device_id}, registered {device.registered_at:%Y-%m-%d %H:%M} UTC, "
        + (f"on site {device.site_id}" if device.site_id else "on no site")
        for device in devices
    ]
    if len(clashes) > SHOWN:
        lines.append(f"  … and more (the first {SHOWN} serials are shown)")
    raise CommandError(
        "Serial numbers must be unique regardless of letter case, and these chargers are "
        "registered under serials that differ only in case:\n"
        + "\n".join(lines)
        + "\nKeep the real charger's registration, remove each other one with "
        "`manage.py release_serial <its exact sn>` (add --force for one on a site or with "
        "history), then run migrate again."
    )


class Migration(migrations.Migration):
    dependencies = [
        ("fleet", "0014_history_belongs_to_its_operator"),
    ]

    operations = [
        migrations.RunPython(refuse_case_variant_serials, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="device",
            constraint=models.UniqueConstraint(Upper("sn"), name="device_sn_case_insensitive"),
        ),
    ]
