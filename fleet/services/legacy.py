"""The legacy operator-to-operator interface (docs/legacy-interface.md): charge
points in the PascalCase shapes, peer orders on top of our commands, and the outbox of pushes to the
peer's callback (notify_work_status, notification_stationStatus).

Decisions: ChargePointId/ChargeBoxId is our device_id (decision: legacy-ids); times are UTC
(decision: legacy-utc); connector statuses map idle → Available, preparing/charging/discharging →
Working, fault/unavailable (and every connector of an offline device) → Fault (decision:
legacy-status-map).
"""

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from fleet.actors import Actor
from fleet.errors import Conflict, InvalidParameter, NotFound
from fleet.ids import new_id
from fleet.models import ApiClient, Command, Connector, Device, LegacyOrder, LegacyPush
from fleet.services import control
from fleet.services.tenancy import devices_of
from fleet.signals import legacy_push_due

LEGACY_TIME = "%Y-%m-%d %H:%M:%S"
LEGACY_STATUS = {
    "idle": "Available",
    "preparing": "Working",
    "charging": "Working",
    "discharging": "Working",
    "fault": "Fault",
    "unavailable": "Fault",
}
FINAL_ORDER_STATUSES = {"START_FAILED", "COMPLETED"}


def legacy_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(LEGACY_TIME)


def parse_legacy_time(field: str, text: str) -> datetime:
    try:
        return datetime.strptime(text, LEGACY_TIME).replace(tzinfo=UTC)
    except ValueError as exc:
        raise InvalidParameter(field, text, f"{field} must be yyyy-MM-dd HH:mm:ss") from exc


def connector_statuses(device: Device, connectors: list[Connector]) -> dict[str, str]:
    if device.status != Device.Status.ONLINE:
        return {str(c.connector_id): "Fault" for c in connectors} or {"1": "Fault"}
    return {str(c.connector_id): LEGACY_STATUS.get(c.state, "Fault") for c in connectors} or {
        "1": "Available"
    }


def charge_point(device: Device, connectors: list[Connector]) -> dict[str, Any]:
    site = device.site
    return {
        "ChargeBoxId": device.device_id,
        "CreateTime": device.registered_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "Type": device.kind,
        "Power": device.max_power_kw,
        "Longitude": site.lng if site and site.lng is not None else 0.0,
        "Latitude": site.lat if site and site.lat is not None else 0.0,
        "Connectors": [
            {"ConnectorId": int(cid), "Status": status}
            for cid, status in sorted(
                connector_statuses(device, connectors).items(), key=lambda x: int(x[0])
            )
        ],
    }


def _charge_points(devices: list[Device]) -> list[dict[str, Any]]:
    by_device: dict[str, list[Connector]] = {d.device_id: [] for d in devices}
    for connector in Connector.objects.filter(device__in=devices).order_by("connector_id"):
        by_device[connector.device_id].append(connector)
    return [charge_point(d, by_device[d.device_id]) for d in devices]


def query_station_info(
    operator_id: str, last_query_time: str | None, page_no: int, page_size: int
) -> dict[str, Any]:
    """Charge points changed since LastQueryTime (all when empty), paged."""
    queryset = devices_of(operator_id).select_related("site").order_by("registered_at", "device_id")
    if last_query_time:
        queryset = queryset.filter(
            updated_at__gte=parse_legacy_time("LastQueryTime", last_query_time)
        )
    total = queryset.count()
    offset = (page_no - 1) * page_size
    devices = list(queryset[offset : offset + page_size])
    return {
        "PageNo": page_no,
        "PageCount": max(1, math.ceil(total / page_size)),
        "ItemSize": total,
        "ChargePoints": _charge_points(devices),
    }


def query_station_status(operator_id: str, charge_point_ids: list[str]) -> list[dict[str, Any]]:
    """Current state of the listed charge points; ids that are not the caller's are left
    out, as unknown ones are."""
    devices = list(
        devices_of(operator_id).filter(device_id__in=charge_point_ids).select_related("site")
    )
    order = {cid: index for index, cid in enumerate(charge_point_ids)}
    devices.sort(key=lambda d: order[d.device_id])
    return _charge_points(devices)


# --- Orders --------------------------------------------------------------------------------


def start_order(
    actor: Actor,
    client: ApiClient,
    kind: str,
    order_id: str,
    device_id: str,
    connector_id: int,
    params: dict[str, Any],
    note: str = "",
) -> LegacyOrder:
    """Queue the start command through the same services as the operator API; the same
    OrderId again returns the existing order (the peer retried), another target is 4001."""
    existing = LegacyOrder.objects.filter(client=client, order_id=order_id).first()
    if existing is not None:
        if (existing.device_id, existing.connector_id, existing.kind) != (
            device_id,
            connector_id,
            kind,
        ):
            raise Conflict(f"OrderId '{order_id}' is already used for another charge point")
        return existing
    with transaction.atomic():
        start = control.start_charging if kind == LegacyOrder.Kind.CHARGE else control.discharge
        command = start(actor, device_id, connector_id, {**params, "transaction_id": order_id})
        return LegacyOrder.objects.create(
            client=client,
            order_id=order_id,
            vendor_order_id=new_id("order"),
            device_id=device_id,
            connector_id=connector_id,
            kind=kind,
            start_command=command,
            note=note,
        )


def stop_order(actor: Actor, device_id: str, connector_id: int, reason: str) -> Command:
    return control.stop_charging(actor, device_id, connector_id, {"reason": reason})


def _running_status(order: LegacyOrder) -> str:
    return "CHARGING" if order.kind == LegacyOrder.Kind.CHARGE else "DISCHARGING"


def on_command_change(sender: object, command: Command, **kwargs: object) -> None:
    """command_changed receiver, inside the transaction that changed the command: move
    orders started by it."""
    for order in LegacyOrder.objects.select_for_update().filter(start_command=command):
        if order.status in FINAL_ORDER_STATUSES:
            continue
        if command.status == Command.Status.FAILED:
            _set_order_status(order, "START_FAILED")
        elif command.status in (Command.Status.ACCEPTED, Command.Status.COMPLETED):
            if order.status == "STARTING":
                _set_order_status(order, _running_status(order))


def on_session_end(sender: object, device_id: str, connector_id: int, **kwargs: object) -> None:
    """session_ended receiver, inside the transaction recording a `stop` event or a
    charging record: complete the orders running on the connector."""
    running = LegacyOrder.objects.select_for_update().filter(
        device_id=device_id, connector_id=connector_id, status__in=["CHARGING", "DISCHARGING"]
    )
    for order in running:
        _set_order_status(order, "COMPLETED")


def _meter(order: LegacyOrder) -> dict[str, Any] | None:
    connector = Connector.objects.filter(
        device_id=order.device_id, connector_id=order.connector_id
    ).first()
    if connector is None or connector.power is None:
        return None
    energy = connector.energy_delivered or 0.0
    meter = {
        "Power": connector.power,
        "Voltage": connector.voltage or 0.0,
        "Current": connector.current or 0.0,
        "WorkValue": round(energy * 1000, 3),
        "Energy": energy,
    }
    if connector.soc is not None:
        meter["Soc"] = connector.soc
    return meter


def _set_order_status(order: LegacyOrder, status: str) -> None:
    order.status = status
    order.save(update_fields=["status", "updated_at"])
    payload = {
        "OrderId": order.order_id,
        "DeviceVendorOrderId": order.vendor_order_id,
        "ChargePointId": order.device_id,
        "ConnectorId": order.connector_id,
        "ChangeTime": legacy_time(timezone.now()),
        "Status": status,
    }
    if status in ("CHARGING", "DISCHARGING", "COMPLETED") and (meter := _meter(order)):
        payload["Meter"] = meter
    client = order.client
    if client.legacy_callback_url:
        enqueue_push(
            client, "notify_work_status", "POST", "/customer/notify_work_status", payload,
            f"order:{order.pk}",
        )  # fmt: skip


# --- Station status pushes -------------------------------------------------------------------


def sync_station_statuses() -> int:
    """Announce every change of a charge point's legacy statuses to the peers of its
    operator (the snapshot update and the pushes commit together)."""
    peers: dict[str, list[ApiClient]] = {}
    for client in ApiClient.objects.filter(is_active=True).exclude(legacy_callback_url=""):
        peers.setdefault(client.operator_id, []).append(client)
    if not peers:
        return 0
    pushed = 0
    devices = (
        Device.objects.filter(site__operator_id__in=peers)
        .select_related("site")
        .prefetch_related("connectors")
    )
    for device in devices.iterator(chunk_size=500):
        connectors = sorted(device.connectors.all(), key=lambda c: c.connector_id)
        statuses = connector_statuses(device, connectors)
        if statuses == device.legacy_statuses:
            continue
        with transaction.atomic():
            Device.objects.filter(pk=device.pk).update(legacy_statuses=statuses)
            payload = charge_point(device, connectors)
            for client in peers[device.site.operator_id]:
                enqueue_push(
                    client, "notification_stationStatus", "PUT",
                    "/customer/notification_stationStatus", payload, f"station:{device.device_id}",
                )  # fmt: skip
                pushed += 1
    return pushed


# --- Outbox ----------------------------------------------------------------------------------


def enqueue_push(
    client: ApiClient, kind: str, method: str, path: str, payload: dict, ordering_key: str
) -> LegacyPush:
    push = LegacyPush.objects.create(
        client=client,
        kind=kind,
        method=method,
        url=client.legacy_callback_url.rstrip("/") + path,
        payload=payload,
        ordering_key=ordering_key,
        next_attempt_at=timezone.now(),
    )
    transaction.on_commit(lambda: legacy_push_due.send(sender=LegacyPush, push_id=push.pk))
    return push


def retry_delay(attempts: int) -> timedelta | None:
    """Wait after the given number of failed attempts, or None: give up (dead)."""
    schedule = settings.TELLUS_LEGACY_RETRY_SCHEDULE
    return timedelta(seconds=schedule[attempts - 1]) if attempts <= len(schedule) else None


def deliver_push(push_id: int, post=None) -> str:
    """Try one push if it is due and nothing earlier for the same order/charge point is
    still pending. Returns what happened ('delivered', 'retry', 'dead', or 'skipped')."""
    import httpx

    now = timezone.now()
    with transaction.atomic():
        push = (
            LegacyPush.objects.select_for_update(skip_locked=True)
            .filter(pk=push_id, status=LegacyPush.Status.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if push is None:
            return "skipped"
        earlier = LegacyPush.objects.filter(
            ordering_key=push.ordering_key, status=LegacyPush.Status.PENDING, id__lt=push.id
        ).exists()
        if earlier:
            return "skipped"
        outcome, status_code, detail = "error", None, ""
        try:
            response = (post or httpx.request)(
                push.method,
                push.url,
                json={**push.payload, "PushId": push.idempotency_key},
                headers={"Idempotency-Key": push.idempotency_key},
                timeout=settings.TELLUS_LEGACY_PUSH_TIMEOUT_SECONDS,
            )
            status_code = response.status_code
            if 200 <= response.status_code < 300:
                try:
                    answer = response.json()
                except ValueError:
                    answer = {}
                accepted = isinstance(answer, dict) and answer.get("Status") != "Reject"
                outcome = "accepted" if accepted else "rejected"
            else:
                outcome, detail = "http_error", response.text[:500]
        except httpx.HTTPError as exc:
            detail = f"{type(exc).__name__}: {exc}"[:500]
        push.attempt_log.create(at=now, outcome=outcome, status_code=status_code, detail=detail)
        push.attempts += 1
        if outcome == "accepted":
            push.status, push.delivered_at = LegacyPush.Status.DELIVERED, now
            result = "delivered"
        elif (delay := retry_delay(push.attempts)) is None:
            push.status, result = LegacyPush.Status.DEAD, "dead"
        else:
            push.next_attempt_at, result = now + delay, "retry"
        push.save(update_fields=["status", "attempts", "next_attempt_at", "delivered_at"])
    return result


def due_pushes(now: datetime) -> list[int]:
    return list(
        LegacyPush.objects.filter(status=LegacyPush.Status.PENDING, next_attempt_at__lte=now)
        .order_by("id")
        .values_list("id", flat=True)[:1000]
    )


def retry_dead_push(push_id: int) -> None:
    """Admin action: give a dead push a fresh attempt now."""
    with transaction.atomic():
        updated = LegacyPush.objects.filter(pk=push_id, status=LegacyPush.Status.DEAD).update(
            status=LegacyPush.Status.PENDING, next_attempt_at=timezone.now()
        )
        if not updated:
            raise NotFound(f"No dead push {push_id}")
        transaction.on_commit(lambda: legacy_push_due.send(sender=LegacyPush, push_id=push_id))
