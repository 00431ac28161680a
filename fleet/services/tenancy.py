"""What an operator may see: its own sites, and the devices assigned to them.

Anything else answers "not found" so that its existence is never revealed.
"""

from django.db.models import QuerySet

from fleet.errors import NotFound
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
