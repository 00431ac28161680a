from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, Field

from api.schemas.common import EmptyAsNull, Related, ResponseSchema
from fleet.queries.sites import SiteSummary


class Location(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class SiteStatusSummary(BaseModel):
    """Connector counts by live state. `charging` includes discharging and preparing,
    `fault` includes unavailable; the unfolded counts are in the extension keys (decision:
    site-status)."""

    idle: int = 0
    charging: int = 0
    fault: int = 0
    discharging: int = Field(0, description="Extension: connectors discharging (V2G).")
    preparing: int = Field(0, description="Extension: connectors preparing a session.")
    unavailable: int = Field(0, description="Extension: connectors unavailable.")


class SiteOut(ResponseSchema):
    site_id: str
    name: str
    address: str | None = None
    location: Location | None = None
    total_connectors: int
    status_summary: SiteStatusSummary
    power_capacity: float | None = None
    created_at: datetime
    status: Literal["active", "inactive"] = Field(
        description="Extension: site status (decision: site-status)."
    )

    @classmethod
    def from_summary(cls, summary: SiteSummary) -> Self:
        """The site with its live connector aggregates; no location unless it has one."""
        site = summary.site
        return cls.from_model(
            site,
            location=None if site.lat is None else {"lat": site.lat, "lng": site.lng},
            total_connectors=summary.total_connectors,
            status_summary=summary.status_summary(),
        )


class ConnectorOut(ResponseSchema):
    # The Connector columns of fleet.telemetry_fields.SNAPSHOT, in the answer's order (tested);
    # the column `state` is called `status` (spec).
    connector_id: int
    status: str = Field(
        validation_alias="state",
        description="ConnectorState; `preparing` is an extension value "
        "(decision: preparing-state).",
    )
    power: float | None = None
    voltage: float | None = None
    current: float | None = None
    energy_delivered: float | None = None
    soc: int | None = None
    temperature: float | None = None
    last_telemetry_time: datetime | None = None


class DeviceOut(ResponseSchema):
    device_id: str
    sn: str
    model: str
    manufacturer: str
    firmware_version: str
    status: Literal["online", "offline"]
    connectors: Annotated[list[ConnectorOut], Related]
    last_heartbeat: datetime | None = None
    site_id: str | None = None
    v2g_capable: bool = Field(
        description="Extension: the charger can discharge (decision: v2g-only-discharge)."
    )


class VehicleInfoOut(BaseModel):
    vin: str | None = None
    soc_start: int | None = None
    soc_end: int | None = None


class ChargingRecordOut(ResponseSchema):
    record_id: str
    device_id: str
    connector_id: int
    start_time: datetime
    end_time: datetime
    energy: float
    max_power: float
    avg_power: float
    cost: float | None = None
    meter_start: float
    meter_end: float
    vehicle_info: VehicleInfoOut | None = None
    stop_reason: EmptyAsNull = Field(None, description="Extension (decision: record-extras).")
    details: dict | None = Field(None, description="Extension (decision: record-extras).")


class CommandStatusOut(ResponseSchema):
    command_id: str
    status: Literal["queued", "accepted", "completed", "failed"]
    created_at: datetime
    updated_at: datetime
    result: dict | None = None
    command: str = Field(description="Extension: the command type.")
    device_id: str | None = Field(None, description="Extension.")
    connector_id: int | None = Field(None, description="Extension.")
    delivered_at: datetime | None = Field(
        None, description="Extension (decision: queued-until-answer)."
    )


class DeviceEventOut(ResponseSchema):
    # `fault_title` is looked up in the fault dictionary (api/operator/fleet.py).
    event_id: int = Field(validation_alias="id")
    device_id: str
    connector_id: int
    event_type: str
    timestamp: datetime
    fault_code: EmptyAsNull = None
    fault_title: str | None = Field(
        None, description="Extension: the dictionary title; absent for undocumented codes."
    )
    source: Literal["charger", "platform"]
    claimed_timestamp: EmptyAsNull = Field(
        None,
        description="Extension: the charger's own time when its clock was not trusted "
        "(`timestamp` is then when the platform received the event).",
    )
    data: dict


class TelemetrySampleOut(ResponseSchema):
    # The fields of fleet.telemetry_fields, in the answer's order (tested).
    device_id: str
    connector_id: int
    timestamp: datetime
    state: str
    voltage: float
    current: float
    power: float
    energy_delivered: float
    soc: int | None = None
    temperature: float | None = None
    phase_details: dict | None = None
    component_health: dict | None = None


class EnergyPoint(BaseModel):
    time: str = Field(
        description="Bucket label: YYYY-MM-DDTHH:00:00Z, YYYY-MM-DD or YYYY-MM (UTC)."
    )
    charge_energy: float
    discharge_energy: float
    max_power: float
    avg_power: float
    site_id: str | None = Field(
        None, description="Extension: with group_by=site (decision: energy-groups)."
    )
    operator_id: str | None = Field(None, description="Extension: with group_by=operator.")


class EnergyTotals(BaseModel):
    charge_energy: float
    discharge_energy: float
    max_power: float


class AggregatedEnergyOut(BaseModel):
    granularity: Literal["hour", "day", "month"]
    start_time: datetime
    end_time: datetime
    series: list[EnergyPoint]
    total: EnergyTotals
