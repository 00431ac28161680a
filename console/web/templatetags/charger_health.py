"""`{% charger_health device as health %}`: one charger's state of health with its active
alerts and last fault (diagnostics.queries.health.device_health), for the charger page's
header. A tag rather than a view's context so the header reads the same facts however it
is drawn: with the page, or alone when a live update re-renders `device-status`."""

from django import template

from diagnostics.queries.health import DeviceHealth, device_health
from fleet.models import Device

register = template.Library()


@register.simple_tag
def charger_health(device: Device) -> DeviceHealth:
    return device_health(device)
