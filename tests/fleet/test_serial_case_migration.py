"""The migration that makes serial numbers unique regardless of letter case meets
chargers already registered under case variants: it stops and names them, deletes
nothing, and goes through once staff have released all but the real one."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from fleet.models import Device
from fleet.services import provisioning

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("fleet", "0014_history_belongs_to_its_operator")


def migrate_to_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_case_variant_serials_already_registered_stop_the_migration_by_name():
    MigrationExecutor(connection).migrate([BEFORE])
    try:
        # Before the rule: the same serial registered three times, in three cases.
        real, _ = provisioning.register_device("SN-7700-AB", "TP-DC180", "Tellus Power", "3.1.0")
        lower, _ = provisioning.register_device("sn-7700-ab", "TP-AC22", "Whoever", "0.0.1")
        mixed, _ = provisioning.register_device("Sn-7700-Ab", "TP-AC22", "Whoever", "0.0.1")
        provisioning.register_device("SN-OTHER", "TP-DC180", "Tellus Power", "3.1.0")

        with pytest.raises(CommandError) as refused:
            migrate_to_latest()
        message = str(refused.value)
        for device in (real, lower, mixed):
            assert f"sn '{device.sn}': {device.device_id}" in message
        assert "SN-OTHER" not in message
        assert "manage.py release_serial" in message
        assert Device.objects.count() == 4  # nothing deleted

        # The remedy the message names, then the migration again.
        for sn in ("sn-7700-ab", "Sn-7700-Ab"):
            call_command("release_serial", sn, stdout=StringIO())
        migrate_to_latest()
        assert list(Device.objects.order_by("sn").values_list("sn", flat=True)) == [
            "SN-7700-AB",
            "SN-OTHER",
        ]
    finally:
        Device.objects.all().delete()
        migrate_to_latest()
