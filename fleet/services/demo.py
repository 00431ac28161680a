"""The demo tenant `make run` and `simulate_fleet --provision` set up: an operator with an
API client and a few sites, and simulated chargers placed on them. Idempotent: a rerun
finds what the first run made instead of adding to it."""

from typing import Any

from fleet.actors import Actor
from fleet.models import ApiClient, Command, Connector, ConnectorState, Device, Site
from fleet.services import control, provisioning

V2G_MODELS = {"TP-DC360"}


def ensure_operator_client(operator: str) -> tuple[ApiClient, str | None]:
    """The operator's first API client, created with read and write scopes if it has none;
    the secret is returned only when the client is new (it is never stored readable)."""
    client = ApiClient.objects.filter(operator__name=operator).order_by("created_at").first()
    if client is not None:
        return client, None
    return provisioning.create_operator_client(operator, ["read", "write"], actor=Actor.cli())


def ensure_sites(client: ApiClient, count: int) -> list[Site]:
    """`count` sites of the client's operator named "<operator> site N", created as needed."""
    sites = []
    for number in range(1, count + 1):
        name = f"{client.operator.name} site {number}"
        site = Site.objects.filter(operator=client.operator, name=name).first()
        if site is None:
            site = provisioning.create_site(client.client_id, name, actor=Actor.cli())
        sites.append(site)
    return sites


def place_chargers(chargers: list[dict[str, Any]], sites: list[Site]) -> int:
    """Put each registered charger on a site, round robin (so consecutive chargers stand at
    different sites); V2G-capable models are flagged. Returns how many were moved."""
    moved = 0
    for index, charger in enumerate(chargers):
        site = sites[index % len(sites)]
        device = Device.objects.filter(device_id=charger["device_id"]).first()
        if device is None or device.site_id == site.pk:
            continue
        v2g = charger["model"] in V2G_MODELS
        provisioning.assign_device(
            device.device_id, site.site_id, v2g_capable=v2g, actor=Actor.cli()
        )
        moved += 1
    return moved


def discharge_where_possible(
    client: ApiClient, device_ids: list[str], power_kw: float = 10.0, seconds: int = 900
) -> list[str]:
    """The demo's V2G traffic, sent as the operator's API client would send it: a discharge
    on the first charging connector of each of the client's devices that has none in
    flight. Returns the ids of the commands queued."""
    actor = Actor.for_client(client)
    in_flight = set(
        Command.objects.filter(
            device_id__in=device_ids,
            command="discharge",
            status__in=[Command.Status.QUEUED, Command.Status.ACCEPTED],
        ).values_list("device_id", flat=True)
    )
    charging: dict[str, int] = {}
    for device_id, connector_id in (
        Connector.objects.filter(
            device_id__in=set(device_ids) - in_flight,
            device__site__operator_id=client.operator_id,
            state=ConnectorState.CHARGING,
        )
        .order_by("-connector_id")
        .values_list("device_id", "connector_id")
    ):
        charging[device_id] = connector_id  # the lowest-numbered one wins
    params = {"discharge_power": power_kw, "duration": seconds}
    return [
        control.discharge(actor, device_id, connector_id, params).command_id
        for device_id, connector_id in sorted(charging.items())
    ]
