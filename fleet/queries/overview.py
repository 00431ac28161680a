"""Moved to diagnostics/queries/overview.py (the overview counts chargers by their state of
health, which reads alerts). Kept only so console/web/live_pages.py's import works until it
imports from diagnostics directly; delete then."""

from diagnostics.queries.overview import FleetOverview, fleet_overview  # noqa: F401
