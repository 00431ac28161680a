import json

from django.core.management.base import BaseCommand, CommandError

from diagnostics.services.loader import DiagnosticsDataError, load_faults, load_runbooks


class Command(BaseCommand):
    help = "Load the fault dictionary and the runbooks from diagnostics/data; idempotent."

    def handle(self, *args, **options):
        try:
            faults = load_faults()
            runbooks = load_runbooks()
        except (DiagnosticsDataError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps({"faults": faults.as_dict(), "runbooks": runbooks.as_dict()}))
