"""What chargers send: strict about invalid values, lenient about new fields."""

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
)

from fleet.contracts.common import ClaimedTimestamp, Int32, Measure, RequestSchema, Text
from fleet.contracts.common import DeviceTimestamp as Timestamp

ConnectorId = Annotated[StrictInt, Field(ge=1, le=255)]
Percent = Annotated[StrictInt, Field(ge=0, le=100)]

# Physical plausibility bounds of what chargers measure (docs/charger-api.md lists them). They are
# wide enough for megawatt charging and lifetime meters, and narrow enough that no
# reading can overflow a sum, a column or a message built from it.
Volts = Measure(0, 2_000)
Amps = Measure(-5_000, 5_000)
Kilowatts = Measure(-5_000, 5_000)
MAX_SESSION_KWH = 100_000  # one session; also bounds a legacy discharge's LimitMaxEnergy
SessionKwh = Measure(0, MAX_SESSION_KWH)
MeterKwh = Measure(0, 1_000_000_000)  # a meter's lifetime register
Celsius = Measure(-100, 300)
Cycles = Measure(0, 1_000_000_000)
Rpm = Measure(0, 100_000)
KiloOhms = Measure(0, 1_000_000_000)
Share = Measure(0, 100)  # a percentage that may have decimals
Money = Measure(-1_000_000, 1_000_000)  # negative: V2G revenue

_EVENT_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_VIN_RE = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")


class HeartbeatRequest(RequestSchema):
    # Liveness is the server's receive time and this time is not stored, so a charger
    # whose clock is wrong (a dead RTC battery) still counts as alive.
    timestamp: ClaimedTimestamp
    status: Literal["online", "offline", "fault"]
    fault_code: Annotated[Int32, Field(ge=0)]


class PhaseDetail(BaseModel):
    model_config = ConfigDict(extra="allow")
    voltage: Volts
    current: Amps


class PhaseDetails(BaseModel):
    model_config = ConfigDict(extra="allow")
    phase_a: PhaseDetail | None = None
    phase_b: PhaseDetail | None = None
    phase_c: PhaseDetail | None = None


class InternalTemps(BaseModel):
    model_config = ConfigDict(extra="allow")
    power_module: Celsius | None = None
    control_board: Celsius | None = None
    ac_inlet: Celsius | None = None
    dc_outlet: Celsius | None = None


class ComponentHealth(BaseModel):
    """The proposed component health block. Every field is optional here: a charger sending part of
    the block keeps its telemetry; wrong types are still refused."""

    model_config = ConfigDict(extra="allow")
    contactor_cycles: Cycles | None = None
    contactor_max_cycles: Cycles | None = None
    cooling_fan_rpm: Rpm | None = None
    cooling_fan_status: Literal["ok", "warning", "fault"] | None = None
    internal_temps: InternalTemps | None = None
    relay_state: Literal["closed", "open", "fault"] | None = None
    isolation_test_kohms: KiloOhms | None = None
    last_isolation_test: Timestamp | None = None
    bidirectional_inverter_cycles: Cycles | None = None
    bidirectional_inverter_max_cycles: Cycles | None = None
    harmonic_distortion_v2g_pct: Share | None = None
    discharge_contactor_cycles: Cycles | None = None


class TelemetryUpload(BaseModel):
    """One connector's snapshot. Fields the spec does not define are kept, not refused."""

    model_config = ConfigDict(extra="allow")
    # The fields of fleet.telemetry_fields in its order, each with its bounds (tested).
    timestamp: Timestamp
    connector_id: ConnectorId
    state: Literal["idle", "preparing", "charging", "discharging", "fault"]
    voltage: Volts
    current: Amps
    power: Kilowatts
    energy_delivered: Measure(-1_000_000_000, 1_000_000_000)
    soc: Percent | None = None
    temperature: Celsius | None = None
    phase_details: PhaseDetails | None = None
    component_health: ComponentHealth | None = None

    def extra_fields(self) -> dict[str, Any] | None:
        return dict(self.model_extra) if self.model_extra else None


class EventReport(RequestSchema):
    """Unknown event types (e.g. `auth_ok`, decision: unknown-event-types) are stored, not refused.
    Connector 0 stands for the whole device (decision: connector-zero-events)."""

    # An event is evidence: one stamped outside the device window is kept at the server's
    # receive time, with the charger's claimed time beside it (record_event).
    timestamp: ClaimedTimestamp
    event_type: Text(32)
    connector_id: Annotated[StrictInt, Field(ge=0, le=255)]
    data: dict[str, Any]

    @field_validator("event_type")
    @classmethod
    def snake_case(cls, value: str) -> str:
        if not _EVENT_TYPE_RE.match(value):
            raise ValueError("event_type must be lower_snake_case, at most 32 characters")
        return value


class VehicleInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    vin: Annotated[StrictStr, Field(max_length=17, pattern=_VIN_RE.pattern)] | None = None
    soc_start: Percent | None = None
    soc_end: Percent | None = None


class ChargingRecordUpload(RequestSchema):
    record_id: Text(64)
    connector_id: ConnectorId
    start_time: Timestamp
    end_time: Timestamp
    energy: SessionKwh
    max_power: Kilowatts
    avg_power: Kilowatts
    cost: Money | None = None
    meter_start: MeterKwh
    meter_end: MeterKwh
    vehicle_info: VehicleInfo | None = None
    stop_reason: Text(64) | None = Field(None, description="Extension (decision: record-extras).")
    details: dict[str, Any] | None = Field(None, description="Extension (decision: record-extras).")

    @field_validator("end_time")
    @classmethod
    def not_before_start(cls, value, info: ValidationInfo):
        start = info.data.get("start_time")
        if start is not None and value < start:
            raise ValueError("end_time must not be before start_time")
        return value

    @field_validator("meter_end")
    @classmethod
    def not_below_meter_start(cls, value, info: ValidationInfo):
        start = info.data.get("meter_start")
        if start is not None and value < start:
            raise ValueError("meter_end must not be below meter_start")
        return value


class DeviceCommandStatus(RequestSchema):
    command_id: Text(40)
    status: Literal["accepted", "rejected", "completed", "failed"]
    message: Annotated[StrictStr, Field(max_length=1000)] | None = None
    timestamp: Timestamp
    details: dict[str, Any] | None = None


class FirmwareUpgradeStatus(RequestSchema):
    firmware_version: Text(64)
    status: Literal["downloading", "upgrading", "success", "failed"]
    progress: Percent | None = None
    message: Annotated[StrictStr, Field(max_length=1000)] | None = None


class PendingCommand(BaseModel):
    command_id: str
    command: str
    params: dict[str, Any]
    expiry: str | None = None


class HeartbeatResponse(BaseModel):
    commands: list[PendingCommand]
