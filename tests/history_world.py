"""A charger handed from one operator to another and back (A → B → A), with facts written
in each period through the services chargers reach: records, events and telemetry.
Shared by the tests of every surface that reads a charger's history."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from fleet.actors import Actor
from fleet.models import ApiClient, Device, Site
from fleet.services import provisioning
from fleet.services.events import record_event
from fleet.services.records import store_charging_record
from fleet.services.telemetry import record_telemetry_orm

# One past day per period, so each period's energy is a day of its own.
DAYS = [datetime(2025, 3, day, tzinfo=UTC) for day in (10, 11, 12)]
# Each period's session: energy (kWh) and peak power (kW), different in each.
SESSIONS = [(60.0, 30.0), (5.0, 11.0), (21.0, 7.0)]
CODES = ["F-0411", "F-0512", "F-0805"]  # one documented fault code per period


@dataclass
class Period:
    operator_id: str
    record_id: str
    day: datetime
    energy: float
    peak: float
    code: str
    event_ids: list[int] = field(default_factory=list)


@dataclass
class Transferred:
    device: Device
    a_site: Site
    b_site: Site
    periods: list[Period]

    def ids(self, operator_id: str, name: str) -> set:
        """The record ids (name="record_id") or event ids ("event_ids") of the periods
        the operator owned the charger in."""
        found: set = set()
        for period in self.periods:
            if period.operator_id == operator_id:
                value = getattr(period, name)
                found |= set(value) if isinstance(value, list) else {value}
        return found


def write_period(device_id: str, n: int, operator_id: str) -> Period:
    energy, peak = SESSIONS[n]
    day = DAYS[n]
    period = Period(operator_id, f"rec-{n}", day, energy, peak, CODES[n])
    start = day + timedelta(hours=10)
    store_charging_record(
        device_id,
        {
            "record_id": period.record_id, "connector_id": 1, "start_time": start,
            "end_time": start + timedelta(hours=2), "energy": energy, "max_power": peak,
            "avg_power": energy / 2, "meter_start": 0.0, "meter_end": energy, "cost": 9.5 + n,
            "vehicle_info": {"vin": f"VIN-OF-PERIOD-{n}"},
        },
    )  # fmt: skip
    for minutes in (0, 30):
        record_telemetry_orm(
            device_id,
            {
                "connector_id": 1, "timestamp": start + timedelta(minutes=minutes),
                "state": "charging", "voltage": 400.0, "current": 20.0,
                "power": peak - minutes / 10, "energy_delivered": 1.0, "soc": None,
                "temperature": None, "phase_details": None, "component_health": None,
                "extra": None,
            },
            timezone.now(),
        )  # fmt: skip
    for minutes in (1, 2, 3):  # recent: detectors look at the last day
        event = record_event(
            device_id, "fault", 1, timezone.now() - timedelta(minutes=minutes),
            {"fault_code": period.code},
        )  # fmt: skip
        period.event_ids.append(event.pk)
    return period


def transferred(
    a_client: ApiClient, b_client: ApiClient, device: Device, *, back: bool = True
) -> Transferred:
    """`device`, on a site of A, gets a period under A, moves to a site of B for a period
    under B and (with `back`) returns to A for a third."""
    a_site = device.site
    b_site = provisioning.create_site(Actor.platform(), b_client.client_id, "Harbour")
    periods = [write_period(device.device_id, 0, a_client.operator_id)]
    provisioning.assign_device(Actor.platform(), device.device_id, b_site.site_id)
    periods.append(write_period(device.device_id, 1, b_client.operator_id))
    if back:
        provisioning.assign_device(Actor.platform(), device.device_id, a_site.site_id)
        periods.append(write_period(device.device_id, 2, a_client.operator_id))
    device.refresh_from_db()
    return Transferred(device, a_site, b_site, periods)
