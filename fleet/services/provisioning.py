"""Creating operators, API clients, sites and devices, and managing their secrets.

The management commands, the admin and the registration endpoint all come here.
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, connection, router, transaction
from django.db.models.deletion import Collector
from django.utils import timezone

from fleet import tokens
from fleet.actors import Actor
from fleet.credentials import hash_secret, new_secret
from fleet.errors import Conflict, InvalidParameter, MissingParameter, NotFound
from fleet.models import ApiClient, Connector, Device, DeviceOwnershipChange, Operator, Site
from fleet.models.operators import SCOPES
from fleet.secrets_box import reseal, seal
from fleet.services import audit, tenancy
from fleet.services.auth import publish_credential_version


def _require_text(field: str, value: str | None, max_length: int) -> str:
    value = (value or "").strip()
    if not value:
        raise MissingParameter(field)
    if len(value) > max_length:
        raise InvalidParameter(field, value, f"Parameter '{field}' exceeds {max_length} characters")
    return value


def _record_creation(actor: Actor, obj: Site | ApiClient, details: dict[str, Any] | None) -> None:
    """The `create` entry of a new client or site, in the trail of its operator."""
    audit.record_change(
        actor,
        action="create",
        subject=audit.subject_of(obj),
        before=None,
        after=audit.snapshot(obj),
        operator_ids=[audit.operator_id_of(obj)],
        details=details,
    )


def validate_scopes(scopes: list[str]) -> list[str]:
    requested = {scope.strip() for scope in scopes if scope.strip()}
    unknown = sorted(requested - set(SCOPES))
    if unknown:
        raise InvalidParameter("scopes", unknown, f"Unknown scope(s): {', '.join(unknown)}")
    if not requested:
        raise MissingParameter("scopes")
    return [scope for scope in SCOPES if scope in requested]


def validate_callback_url(url: str) -> str:
    url = url.strip()
    if not url:
        return ""
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError as exc:
        raise InvalidParameter("legacy_callback_url", url, "Not a valid http(s) URL") from exc
    return url.rstrip("/")


@transaction.atomic
def create_operator_client(
    actor: Actor,
    operator_name: str,
    scopes: list[str],
    legacy_callback_url: str = "",
    require_signed_writes: bool = False,
    *,
    details: dict[str, Any] | None = None,
) -> tuple[ApiClient, str]:
    """Create an API client (and its operator if new), audited as `create` by `actor`.
    Returns the client and its secret, which is shown this once and never stored."""
    name = _require_text("operator", operator_name, 200)
    scopes = validate_scopes(scopes)
    callback = validate_callback_url(legacy_callback_url)
    operator, _ = Operator.objects.get_or_create(name=name)
    secret = new_secret()
    client = ApiClient.objects.create(
        operator=operator,
        name=name,
        secret_hash=hash_secret(secret),
        secret_sealed=seal(secret),
        scopes=scopes,
        legacy_callback_url=callback,
        require_signed_writes=require_signed_writes,
    )
    _record_creation(actor, client, details)
    return client, secret


@transaction.atomic
def rotate_client_secret(actor: Actor, client_id: str) -> tuple[ApiClient, str]:
    """Replace a client's secret; every token issued before stops working. Audited as
    `rotate_secret` by `actor` (the secret itself shows only as changed)."""
    client = ApiClient.objects.select_for_update().filter(client_id=client_id).first()
    if client is None:
        raise NotFound(f"API client '{client_id}' not found")
    before = audit.snapshot(client)
    secret = new_secret()
    client.secret_hash = hash_secret(secret)
    client.secret_sealed = seal(secret)
    client.secret_version += 1
    client.secret_rotated_at = timezone.now()
    client.save(
        update_fields=["secret_hash", "secret_sealed", "secret_version", "secret_rotated_at"]
    )
    transaction.on_commit(
        lambda: publish_credential_version(tokens.OPERATOR, client.client_id, client.secret_version)
    )
    old, new = audit.changes(before, audit.snapshot(client))
    audit.record(
        actor,
        action="rotate_secret",
        resource_type="client",
        resource_id=client.client_id,
        operator_id=client.operator_id,
        details={"secret_version": client.secret_version},
        before=old,
        after=new,
    )
    return client, secret


@transaction.atomic
def create_site(
    actor: Actor,
    client_id: str,
    name: str,
    address: str = "",
    lat: float | None = None,
    lng: float | None = None,
    power_capacity: float | None = None,
    *,
    details: dict[str, Any] | None = None,
) -> Site:
    """Create a site owned by the operator of the given API client, audited as `create`
    by `actor`."""
    client = ApiClient.objects.filter(client_id=client_id).select_related("operator").first()
    if client is None:
        raise NotFound(f"API client '{client_id}' not found")
    name = _require_text("name", name, 200)
    if (lat is None) != (lng is None):
        raise MissingParameter("lng" if lng is None else "lat", "lat and lng go together")
    if lat is not None and not -90 <= lat <= 90:
        raise InvalidParameter("lat", lat, "lat must be between -90 and 90")
    if lng is not None and not -180 <= lng <= 180:
        raise InvalidParameter("lng", lng, "lng must be between -180 and 180")
    if power_capacity is not None and not power_capacity >= 0:
        raise InvalidParameter("power_capacity", power_capacity, "power_capacity must be ≥ 0 kW")
    if len(address) > 500:
        raise InvalidParameter("address", address, "address exceeds 500 characters")
    site = Site.objects.create(
        operator=client.operator,
        name=name,
        address=address.strip(),
        lat=lat,
        lng=lng,
        power_capacity=power_capacity,
    )
    _record_creation(actor, site, details)
    return site


@transaction.atomic
def assign_device(
    actor: Actor,
    device_id: str,
    site_id: str,
    v2g_capable: bool | None = None,
    *,
    details: dict[str, Any] | None = None,
) -> Device:
    """Put a registered device on a site, which makes it visible to the site's operator.
    Audited as `update` by `actor` in the trails of the operators before and after, so a
    device moving between operators shows in both."""
    # Locked: two moves of one charger are serialised, each logging what it saw.
    device = Device.objects.select_for_update().filter(device_id=device_id).first()
    if device is None:
        raise NotFound(f"Device '{device_id}' not found")
    site = Site.objects.filter(site_id=site_id).first()
    if site is None:
        raise NotFound(f"Site '{site_id}' not found")
    before = audit.snapshot(device)
    operator_before = audit.operator_id_of(device)
    # The charger's history stays with the operator it happened under (its facts carry
    # their owner); the save logs the move and, across operators, sends
    # device_owner_changed in this transaction (fleet.services.tenancy).
    device.site = site
    fields = ["site", "updated_at"]
    if v2g_capable is not None:
        device.v2g_capable = v2g_capable
        fields.append("v2g_capable")
    with tenancy.acting_as(actor):
        device.save(update_fields=fields)
    audit.record_change(
        actor,
        action="update",
        subject=audit.subject_of(device),
        before=before,
        after=audit.snapshot(device),
        operator_ids=[operator_before, audit.operator_id_of(device)],
        details=details,
    )
    return device


def register_device(
    sn: str, model: str, manufacturer: str, firmware_version: str, mac: str = ""
) -> tuple[Device, str]:
    """First contact of a charger. The device belongs to no site until assigned."""
    secret = new_secret()
    try:
        with transaction.atomic():
            device = Device.objects.create(
                sn=sn,
                model=model,
                manufacturer=manufacturer,
                firmware_version=firmware_version,
                mac=mac,
                secret_hash=hash_secret(secret),
                secret_expires_at=timezone.now()
                + timedelta(seconds=settings.TELLUS_DEVICE_SECRET_TTL_SECONDS),
            )
    except IntegrityError as exc:
        # Letter case aside: `ABC123` is taken when `abc123` is (the index on upper(sn)).
        if Device.objects.filter(sn__iexact=sn).exists():
            raise Conflict(
                f"A charger with sn '{sn}' is already registered", {"field": "sn", "value": sn}
            ) from exc
        raise
    return device, secret


@transaction.atomic
def reset_device_credentials(actor: Actor, device_id: str) -> tuple[Device, str]:
    """Issue a new secret to a charger that lost its own (decision: credential-reset); old tokens
    stop working. Audited as `reset_credentials` by `actor` in the trail of the device's
    operator."""
    device = Device.objects.select_for_update().filter(device_id=device_id).first()
    if device is None:
        raise NotFound(f"Device '{device_id}' not found")
    before = audit.snapshot(device)
    secret = new_secret()
    device.secret_hash = hash_secret(secret)
    device.secret_expires_at = timezone.now() + timedelta(
        seconds=settings.TELLUS_DEVICE_SECRET_TTL_SECONDS
    )
    device.credential_version += 1
    device.save(
        update_fields=["secret_hash", "secret_expires_at", "credential_version", "updated_at"]
    )
    transaction.on_commit(
        lambda: publish_credential_version(
            tokens.DEVICE, device.device_id, device.credential_version
        )
    )
    old, new = audit.changes(before, audit.snapshot(device))
    audit.record(
        actor,
        action="reset_credentials",
        resource_type="device",
        resource_id=device.device_id,
        operator_id=audit.operator_id_of(device),
        details={"credential_version": device.credential_version},
        before=old,
        after=new,
    )
    return device, secret


def reseal_client_secrets() -> dict[str, Any]:
    """Seal every stored client secret under the newest encryption key (after a new key
    was put first in TELLUS_ENCRYPTION_KEYS). Secrets no configured key opens are listed,
    not touched: those clients need `rotate_client_secret` before they can sign."""
    resealed, unreadable = 0, []
    for client in ApiClient.objects.exclude(secret_sealed="").only(
        "pk", "client_id", "secret_sealed"
    ):
        with transaction.atomic():
            fresh = reseal(client.secret_sealed)
            if fresh is None:
                unreadable.append(client.client_id)
                continue
            # The secret itself is unchanged: no credential version bump, tokens stay valid.
            ApiClient.objects.filter(pk=client.pk, secret_sealed=client.secret_sealed).update(
                secret_sealed=fresh
            )
            resealed += 1
    return {"resealed": resealed, "unreadable": unreadable}


def _history_of(device: Device) -> dict[str, int]:
    """What the platform has recorded from or for a charger, by kind (its connectors'
    live state aside: a snapshot, not history; and the log of where it was placed, which
    records staff's actions, not the charger's)."""
    counts = {}
    tables = present_tables()
    for relation in Device._meta.related_objects:
        if relation.related_model in (Connector, DeviceOwnershipChange):
            continue
        if relation.related_model._meta.db_table not in tables:
            continue  # a release run before the migrations that add it (see _delete)
        if not relation.one_to_many:
            continue
        rows = relation.related_model._base_manager.filter(**{relation.field.name: device})
        if count := rows.count():
            counts[str(relation.related_model._meta.verbose_name_plural)] = count
    return counts


def present_tables() -> set[str]:
    return set(connection.introspection.table_names())


class _PresentTablesCollector(Collector):
    """Django's cascade, over the tables the database has: release_serial is the remedy
    the serial-number migration names, so it runs on a schema from before later
    migrations, whose models (and rows) are not there yet."""

    def __init__(self, using: str, origin: Device, tables: set[str]):
        super().__init__(using=using, origin=origin)
        self.tables = tables

    def related_objects(self, related_model, related_fields, objs):
        if related_model._meta.db_table not in self.tables:
            return related_model._base_manager.none()
        return super().related_objects(related_model, related_fields, objs)


def _delete(device: Device) -> None:
    collector = _PresentTablesCollector(router.db_for_write(Device), device, present_tables())
    collector.collect([device])
    collector.delete()


@transaction.atomic
def release_serial(actor: Actor, sn: str, *, force: bool = False) -> dict[str, Any]:
    """Remove the registration that holds a serial number, so the charger that really
    carries it can register. Registration is unauthenticated: anyone may claim a serial
    first. Refused (409) for a charger on a site or with history unless `force`: then its
    history goes with it. Audited as `release_serial` by `actor`; the registration's
    tokens stop working."""
    sn = _require_text("sn", sn, 64)
    candidates = list(Device.objects.select_for_update().filter(sn__iexact=sn).order_by("sn"))
    exact = [device for device in candidates if device.sn == sn]
    if not candidates:
        raise NotFound(f"No charger is registered with sn '{sn}'")
    if not exact and len(candidates) > 1:
        variants = ", ".join(f"'{device.sn}'" for device in candidates)
        raise Conflict(
            f"Several chargers have a serial number like '{sn}' ({variants}); give the exact one",
            {"field": "sn", "value": sn},
        )
    device = (exact or candidates)[0]
    history = _history_of(device)
    if not force and (device.site_id or history):
        held = [f"it is on site {device.site_id}"] if device.site_id else []
        held += [f"{count} {kind}" for kind, count in history.items()]
        raise Conflict(
            f"Charger {device.device_id} with sn '{device.sn}' is in use ({', '.join(held)}); "
            "release it with force only if that registration is not the real charger",
            {"field": "sn", "value": device.sn},
        )
    released = {
        "device_id": device.device_id,
        "sn": device.sn,
        "site_id": device.site_id,
        "registered_at": device.registered_at.isoformat(),
        "history": history,
        "forced": force,
    }
    operator_id = audit.operator_id_of(device)
    before = audit.snapshot(device)
    _delete(device)
    audit.record(
        actor,
        action="release_serial",
        resource_type="device",
        resource_id=released["device_id"],
        operator_id=operator_id,
        details={"sn": released["sn"], "forced": force, "history": history},
        before=before,
        after=None,
    )
    return released
