"""Whose a charger's facts are: the operator (and site) that owned the charger when the
fact happened, stamped on the fact as it is written (the log of ownership changes is
fleet.models.ownership).

A fact (telemetry sample, event, charging record, connectivity change, firmware update)
carries `operator` (and `site` where reports group by site) copied from the charger's
site at the moment it is stored; a charger on no site stamps NULL, nobody's. Reads of
history filter by the stamp, never by where the charger is now, so moving a charger (or
a whole site) to another operator takes none of its past along. A fact stored while its
charger is being moved belongs to whichever owner its write saw (the move commits before
or after it); either way it has exactly one owner, fixed once, so every report agrees.

The stamps are references without a database constraint: history keeps the ids it
happened under when a site or an operator is later deleted (as the audit trail keeps
its operator's), and deleting a site rewrites none of its history's rows.
"""

from collections.abc import Iterable

from django.db import models


def stamp_field(to, **kwargs) -> models.ForeignKey:
    """The operator or site a fact happened under (see the module's docstring)."""
    return models.ForeignKey(
        to,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        **kwargs,
    )


def owners_now(
    device_model: type[models.Model], device_ids: Iterable[str]
) -> dict[str, tuple[str | None, str | None]]:
    """device_id → (operator_id, site_id) owning the charger now; (None, None) off site.
    The Device model comes from the facts' own `device` field: this module is below the
    models it serves."""
    rows = device_model.objects.filter(pk__in=set(device_ids)).values_list(
        "device_id", "site__operator_id", "site_id"
    )
    return {device_id: (operator_id, site_id) for device_id, operator_id, site_id in rows}


def stamp_owners(facts: Iterable[models.Model]) -> None:
    """Stamp each fact not stamped yet with its charger's owner now (one query)."""
    unstamped = [fact for fact in facts if fact.operator_id is None and _site(fact) is None]
    if not unstamped:
        return
    device_model = unstamped[0]._meta.get_field("device").related_model
    owners = owners_now(device_model, (fact.device_id for fact in unstamped))
    for fact in unstamped:
        operator_id, site_id = owners.get(fact.device_id, (None, None))
        fact.operator_id = operator_id
        if hasattr(fact, "site_id"):
            fact.site_id = site_id


def _site(fact: models.Model) -> str | None:
    return getattr(fact, "site_id", None)


class FactQuerySet(models.QuerySet):
    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        stamp_owners(objs)
        return super().bulk_create(objs, *args, **kwargs)


class StampedFact(models.Model):
    """A fact stamped with its owner when first saved, by whatever ORM path (services,
    admin, bulk_create); SQL writers stamp in their own statements."""

    objects = FactQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self._state.adding:
            stamp_owners([self])
        super().save(*args, **kwargs)
