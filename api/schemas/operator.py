from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class Location(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class SiteStatusSummary(BaseModel):
    """Connector counts by live state. `charging` includes discharging and preparing,
    `fault` includes unavailable; the unfolded counts are in the extension keys (A5)."""

    idle: int = 0
    charging: int = 0
    fault: int = 0
    discharging: int = Field(0, description="Extension: connectors discharging (V2G).")
    preparing: int = Field(0, description="Extension: connectors preparing a session.")
    unavailable: int = Field(0, description="Extension: connectors unavailable.")


class SiteOut(BaseModel):
    site_id: str
    name: str
    address: str | None = None
    location: Location | None = None
    total_connectors: int
    status_summary: SiteStatusSummary
    power_capacity: float | None = None
    created_at: datetime
    status: Literal["active", "inactive"] = Field(description="Extension: site status (A5).")


class ConnectorOut(BaseModel):
    connector_id: int
    status: str = Field(description="ConnectorState; `preparing` is an extension value (A2).")
    power: float | None = None
    voltage: float | None = None
    current: float | None = None
    energy_delivered: float | None = None
    soc: int | None = None
    temperature: float | None = None
    last_telemetry_time: datetime | None = None


class DeviceOut(BaseModel):
    device_id: str
    sn: str
    model: str
    manufacturer: str
    firmware_version: str
    status: Literal["online", "offline"]
    connectors: list[ConnectorOut]
    last_heartbeat: datetime | None = None
    site_id: str | None = None
    v2g_capable: bool = Field(description="Extension: the charger can discharge (A29).")
