"""What an operator may see: its own sites, and the devices assigned to them; and the
history of chargers it owns or owned, as far as that history happened under it (facts
carry the operator they happened under: fleet/models/stamps.py).

Anything else answers "not found" so that its existence is never revealed. Ownership
changes are logged here, whatever path saves them.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction
from django.db.models import QuerySet

from fleet.actors import Actor
from fleet.errors import NotFound
from fleet.live import messages
from fleet.live.publish import publish_device_message_sync
from fleet.models import Device, DeviceOwnershipChange, Operator, Site
from fleet.signals import device_owner_changed


def sites_of(operator_id: str) -> QuerySet[Site]:
    return Site.objects.filter(operator_id=operator_id)


def devices_of(operator_id: str) -> QuerySet[Device]:
    return Device.objects.filter(site__operator_id=operator_id)


def get_device_for_operator(operator_id: str, device_id: str) -> Device:
    device = devices_of(operator_id).filter(device_id=device_id).first()
    if device is None:
        raise NotFound(f"Device '{device_id}' not found")
    return device


def history_device(operator_id: str, device_id: str) -> str:
    """The id of a charger whose history the operator may read: one in its fleet now, or
    one it owned before (the ownership log names it as a former owner). Anything else is
    not found. What it may read of that history is only what is stamped with it."""
    if (
        devices_of(operator_id).filter(device_id=device_id).exists()
        or DeviceOwnershipChange.objects.filter(
            operator_before_id=operator_id, device_id=device_id
        ).exists()
    ):
        return device_id
    raise NotFound(f"Device '{device_id}' not found")


def history_sites(operator_id: str, site_ids: list[str]) -> set[str]:
    """Those of `site_ids` whose history the operator may read: its sites now, and sites
    that were its own before (chargers left it with a change of the site's operator)."""
    wanted = set(site_ids)
    now = set(sites_of(operator_id).filter(site_id__in=wanted).values_list("site_id", flat=True))
    before = DeviceOwnershipChange.objects.filter(
        operator_before_id=operator_id, site_before_id__in=wanted - now
    ).values_list("site_before_id", flat=True)
    return now | set(before)


def get_site_for_operator(operator_id: str, site_id: str) -> Site:
    site = sites_of(operator_id).filter(site_id=site_id).first()
    if site is None:
        raise NotFound(f"Site '{site_id}' not found")
    return site


# Who is changing ownership right now, for the receivers below (a model save carries no
# actor): set by assign_device and the admin; anything else is the platform's doing.
_acting: ContextVar[Actor | None] = ContextVar("tellus_ownership_actor", default=None)


@contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    """Saves of devices and sites inside this block are `actor`'s in the ownership log."""
    token = _acting.set(actor)
    try:
        yield
    finally:
        _acting.reset(token)


def _stored_owner(instance: Device | Site) -> tuple[str | None, str | None]:
    """(operator_id, site_id) of the record as stored; a site's own id as its site."""
    if isinstance(instance, Site):
        operator_id = (
            Site.objects.filter(pk=instance.pk).values_list("operator_id", flat=True).first()
        )
        return operator_id, instance.pk
    row = Device.objects.filter(pk=instance.pk).values_list("site__operator_id", "site_id").first()
    return row if row is not None else (None, None)


def note_owner(sender, instance: Device | Site, raw: bool = False, **kwargs) -> None:
    """pre_save receiver (Device, Site): the operator and site the record belongs to
    before the save, when the save can change them."""
    instance._owner_before = (None, None)
    update_fields = kwargs.get("update_fields")
    field = "operator" if isinstance(instance, Site) else "site"
    if raw or instance._state.adding or (update_fields is not None and field not in update_fields):
        instance._owner_unchanged = True
        return
    instance._owner_unchanged = False
    instance._owner_before = _stored_owner(instance)


def announce_owner_change(sender, instance: Device | Site, **kwargs) -> None:
    """post_save receiver, inside the saving transaction: a charger that moved (to another
    site, or with its site to another operator) is logged as a DeviceOwnershipChange and,
    when its operator changed, `device_owner_changed` is sent; once committed, everyone
    watching it is told (open streams of the old operator drop it)."""
    if getattr(instance, "_owner_unchanged", True):
        return
    before, after = instance._owner_before, _stored_owner(instance)
    if after == before:
        return
    actor = _acting.get() or Actor.platform()
    via_site = isinstance(instance, Site)
    if via_site:
        device_ids = list(Device.objects.filter(site=instance).values_list("device_id", flat=True))
    else:
        device_ids = [instance.device_id]
    _log_changes(actor, device_ids, before, after, via_site)
    operator_before, operator_after = before[0], after[0]
    if operator_before == operator_after:
        return
    device_owner_changed.send(
        sender=type(instance),
        device_ids=device_ids,
        operator_before=operator_before,
        operator_after=operator_after,
        actor=actor,
    )

    def announce() -> None:
        for device_id in device_ids:
            publish_device_message_sync(
                device_id, messages.device_reassigned(device_id, operator_after)
            )

    transaction.on_commit(announce)


def _log_changes(
    actor: Actor,
    device_ids: list[str],
    before: tuple[str | None, str | None],
    after: tuple[str | None, str | None],
    via_site: bool,
) -> None:
    operators = dict(
        Operator.objects.filter(pk__in=[before[0], after[0]]).values_list("pk", "name")
    )
    site_names = dict(Site.objects.filter(pk__in=[before[1], after[1]]).values_list("pk", "name"))
    DeviceOwnershipChange.objects.bulk_create(
        DeviceOwnershipChange(
            device_id=device_id,
            operator_before_id=before[0],
            operator_before_name=operators.get(before[0], ""),
            site_before_id=before[1],
            site_before_name=site_names.get(before[1], ""),
            operator_after_id=after[0],
            operator_after_name=operators.get(after[0], ""),
            site_after_id=after[1],
            site_after_name=site_names.get(after[1], ""),
            via_site=via_site,
            actor=actor.label,
        )
        for device_id in device_ids
    )
