"""What an operator may see: its own sites, and the devices assigned to them.

Anything else answers "not found" so that its existence is never revealed.
"""

from django.db import transaction
from django.db.models import QuerySet

from fleet.errors import NotFound
from fleet.live import messages
from fleet.live.publish import publish_device_message_sync
from fleet.models import Device, Site


def sites_of(operator_id: str) -> QuerySet[Site]:
    return Site.objects.filter(operator_id=operator_id)


def devices_of(operator_id: str) -> QuerySet[Device]:
    return Device.objects.filter(site__operator_id=operator_id)


def get_device_for_operator(operator_id: str, device_id: str) -> Device:
    device = devices_of(operator_id).filter(device_id=device_id).first()
    if device is None:
        raise NotFound(f"Device '{device_id}' not found")
    return device


def get_site_for_operator(operator_id: str, site_id: str) -> Site:
    site = sites_of(operator_id).filter(site_id=site_id).first()
    if site is None:
        raise NotFound(f"Site '{site_id}' not found")
    return site


def _stored_operator(instance: Device | Site) -> str | None:
    if isinstance(instance, Site):
        return Site.objects.filter(pk=instance.pk).values_list("operator_id", flat=True).first()
    return Device.objects.filter(pk=instance.pk).values_list("site__operator_id", flat=True).first()


def note_owner(sender, instance: Device | Site, raw: bool = False, **kwargs) -> None:
    """pre_save receiver (Device, Site): the operator the record belongs to before the
    save, when the save can change it."""
    instance._operator_before = None
    update_fields = kwargs.get("update_fields")
    field = "operator" if isinstance(instance, Site) else "site"
    if raw or instance._state.adding or (update_fields is not None and field not in update_fields):
        instance._owner_unchanged = True
        return
    instance._owner_unchanged = False
    instance._operator_before = _stored_operator(instance)


def announce_owner_change(sender, instance: Device | Site, **kwargs) -> None:
    """post_save receiver: once committed, tell everyone watching a device that moved to
    another operator (open streams of the old one drop it)."""
    if getattr(instance, "_owner_unchanged", True):
        return
    after = _stored_operator(instance)
    if after == instance._operator_before:
        return
    if isinstance(instance, Site):
        device_ids = list(Device.objects.filter(site=instance).values_list("device_id", flat=True))
    else:
        device_ids = [instance.device_id]

    def announce() -> None:
        for device_id in device_ids:
            publish_device_message_sync(device_id, messages.device_reassigned(device_id, after))

    transaction.on_commit(announce)
