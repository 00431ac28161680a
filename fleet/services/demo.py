"""The demo tenant `make run` and `simulate_fleet --provision` set up: an operator with an
API client and a few sites, and simulated chargers placed on them. Idempotent: a rerun
finds what the first run made instead of adding to it."""

import math
from dataclasses import dataclass
from typing import Any

from django.db import OperationalError, connection, models, transaction
from django.utils import timezone

from fleet.actors import Actor
from fleet.models import (
    ApiClient,
    ChargingRecord,
    Command,
    Connector,
    ConnectorState,
    Device,
    Site,
    TelemetrySample,
)
from fleet.services import audit, control, provisioning
from fleet.services.records import upload_digest

V2G_MODELS = {"TP-DC360"}


def ensure_operator_client(operator: str) -> tuple[ApiClient, str | None]:
    """The operator's first API client, created with read and write scopes if it has none;
    the secret is returned only when the client is new (it is never stored readable)."""
    client = ApiClient.objects.filter(operator__name=operator).order_by("created_at").first()
    if client is not None:
        return client, None
    return provisioning.create_operator_client(Actor.cli(), operator, ["read", "write"])


@dataclass(frozen=True)
class SiteProfile:
    """Where a demo site is and what its grid connection carries."""

    address: str
    lat: float
    lng: float


# Made-up addresses for the demo's sites, in their order ("<operator> site 1", ...).
SITE_PROFILES = [
    SiteProfile("Motorway services A7 northbound, Hauptstraße 1, 37079 Göttingen", 51.5571, 9.9147),
    SiteProfile("Park & Ride Messe, Messeplatz 3, 30521 Hannover", 52.3216, 9.8143),
    SiteProfile("Logistics depot, Hafenstraße 40, 28217 Bremen", 53.0936, 8.7686),
    SiteProfile("City car park, Am Markt 12, 38100 Braunschweig", 52.2631, 10.5215),
    SiteProfile("Retail park, Industriestraße 8, 33689 Bielefeld", 51.9566, 8.5751),
]
# A site's grid connection carries less than all its chargers at full power at once, as
# real sites do (load management): this share of their rated power, in steps of 50 kW.
CAPACITY_SHARE = 0.7


def site_capacity(rated_kw: float) -> float:
    """The grid capacity a site whose chargers are rated `rated_kw` together is given."""
    return max(50.0, math.ceil(rated_kw * CAPACITY_SHARE / 50.0) * 50.0)


def site_profile(number: int) -> SiteProfile:
    if number <= len(SITE_PROFILES):
        return SITE_PROFILES[number - 1]
    base = SITE_PROFILES[(number - 1) % len(SITE_PROFILES)]
    return SiteProfile(f"Bay {number}, {base.address}", base.lat, base.lng)


def ensure_sites(client: ApiClient, count: int, rated_kw: list[float] | None = None) -> list[Site]:
    """`count` sites of the client's operator named "<operator> site N", created as needed
    with an address, a location and a grid capacity (`site_capacity` of `rated_kw[N-1]`,
    the rated power of the chargers meant for it). A site made by an earlier release gets
    what it lacks filled in; nothing an operator set is changed."""
    sites = []
    for number in range(1, count + 1):
        name = f"{client.operator.name} site {number}"
        profile = site_profile(number)
        capacity = site_capacity(rated_kw[number - 1]) if rated_kw else None
        site = Site.objects.filter(operator=client.operator, name=name).first()
        if site is None:
            site = provisioning.create_site(
                Actor.cli(), client.client_id, name, profile.address, profile.lat, profile.lng,
                capacity, details={"via": "demo"},
            )  # fmt: skip
        else:
            fill_missing(site, profile, capacity)
        sites.append(site)
    return sites


def fill_missing(site: Site, profile: SiteProfile, capacity: float | None) -> bool:
    """Give a demo site the address, location and capacity it has none of (audited as an
    update by the CLI); returns whether anything changed."""
    before = audit.snapshot(site)
    fields = []
    if not site.address:
        site.address = profile.address
        fields.append("address")
    if site.lat is None and site.lng is None:
        site.lat, site.lng = profile.lat, profile.lng
        fields += ["lat", "lng"]
    if site.power_capacity is None and capacity is not None:
        site.power_capacity = capacity
        fields.append("power_capacity")
    if not fields:
        return False
    with transaction.atomic():
        site.save(update_fields=fields)
        audit.record_change(
            Actor.cli(),
            action="update",
            subject=audit.subject_of(site),
            before=before,
            after=audit.snapshot(site),
            operator_ids=[site.operator_id],
            details={"via": "demo", "filled_in": fields},
        )
    return True


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
        provisioning.assign_device(Actor.cli(), device.device_id, site.site_id, v2g_capable=v2g)
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


def has_history(device: Device) -> bool:
    """Whether the charger already has a past from before it registered: a back-fill (or
    an upload of old data) happened, and a rerun must not add another."""
    return TelemetrySample.objects.filter(
        device_id=device.device_id, timestamp__lt=device.registered_at
    ).exists()


HISTORY_ATTEMPTS = 3
DEADLOCK = "40P01"  # PostgreSQL's SQLSTATE for "deadlock detected"


def store_history(
    device: Device, records: list[dict[str, Any]], samples: list[dict[str, Any]]
) -> bool:
    """Store a made-up past of the charger (fleet.simulator.history) in the rows the
    charger API stores uploads in: each record with the digest of its upload (so the same
    record sent again is recognised), each sample a TelemetrySample, in one transaction
    per charger; on PostgreSQL the hourly peak rollup follows through its triggers, as for
    any insert. Refuses anything at or after the charger's registration, where its live
    data begins, and does nothing for a charger that has a past already. Returns whether
    it stored anything."""
    cutoff = device.registered_at
    if any(r["end_time"] > cutoff for r in records) or any(
        s["timestamp"] >= cutoff for s in samples
    ):
        raise ValueError("a back-filled past must end before the charger registered")
    for attempt in range(1, HISTORY_ATTEMPTS + 1):
        try:
            return _store_history(device, records, samples)
        except OperationalError as error:
            # The past is written in many statements, so its hourly peak rows are locked
            # over several of them; a live upload of a charger on the same site, locking
            # the hours it touches, can close a cycle. PostgreSQL then aborts one of the
            # two, and the remedy is to run the aborted transaction again.
            if (
                getattr(error.__cause__, "sqlstate", None) != DEADLOCK
                or attempt == HISTORY_ATTEMPTS
            ):
                raise
    return False  # not reached: the last attempt returns or raises


def _store_history(
    device: Device, records: list[dict[str, Any]], samples: list[dict[str, Any]]
) -> bool:
    with transaction.atomic():
        # Serialises two back-fills of one charger on PostgreSQL (SQLite has one writer).
        locked = Device.objects.select_for_update().filter(pk=device.pk).first()
        if has_history(device):
            return False
        # The past is the current owner's, as a charger's uploads would be.
        owner = locked.site.operator_id if locked and locked.site_id else None
        owned = {
            "device_id": device.device_id,
            "received_at": timezone.now(),
            "operator_id": owner,
            "site_id": locked.site_id if locked else None,
        }
        insert_rows(
            ChargingRecord,
            [{**owned, **record, "upload_digest": upload_digest(record)} for record in records],
        )
        insert_rows(TelemetrySample, [{**owned, **sample} for sample in samples])
    return True


def insert_rows(model: type[models.Model], rows: list[dict[str, Any]]) -> None:
    """Plain INSERTs of many rows in one executemany, on either database: bulk_create
    spends most of its time preparing each value (50,000 samples: 12 s of 15), here only
    the values that need it (times, JSON) are prepared. Fields a row lacks are NULL."""
    if not rows:
        return
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    prepared = [
        (field.attname, field.get_db_prep_save)
        if isinstance(field, models.DateTimeField | models.JSONField)
        else (field.attname, None)
        for field in fields
    ]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    holes = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({holes})"  # noqa: S608
    values = [
        [
            row.get(name) if prepare is None else prepare(row.get(name), connection)
            for name, prepare in prepared
        ]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, values)
