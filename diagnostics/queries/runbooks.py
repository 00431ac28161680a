"""The diagnostic runbooks, shared by every operator."""

from django.db.models import QuerySet

from diagnostics.models import Runbook


def runbooks() -> QuerySet[Runbook]:
    """Every runbook by slug."""
    return Runbook.objects.order_by("slug")
