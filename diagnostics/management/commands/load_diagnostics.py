import json

from django.core.management.base import BaseCommand, CommandError

from diagnostics.services.loader import DiagnosticsDataError, load_faults


class Command(BaseCommand):
    help = "Load the fault dictionary (and later runbooks) from diagnostics/data; idempotent."

    def handle(self, *args, **options):
        try:
            report = load_faults()
        except (DiagnosticsDataError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps({"faults": report.as_dict()}))
