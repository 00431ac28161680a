"""The fields of a telemetry sample, defined once.

The writers, the live message, the stream frame and the operator output are derived from
FIELDS, so a new field is added here (and to the models, with a migration). The request
and response schemas keep their own declarations for their bounds and documentation;
tests check that they agree with FIELDS.
"""

from dataclasses import dataclass
from typing import Any

# One sample's values by field name: every name of NAMES, plus `extra` (the fields the
# charger sent that the spec does not define, or None).
TelemetryReading = dict[str, Any]


@dataclass(frozen=True)
class TelemetryField:
    """One field of a sample, and where else its value goes."""

    name: str  # the request key, the TelemetrySample column and the message key
    sql_type: str  # element type of the batch insert's array parameter
    snapshot: str = ""  # the Connector column that keeps the newest value, if any
    published: bool = False  # in the connector of the telemetry.sample message
    frame: bool = False  # in the stream's TelemetryFrame (a published snapshot column)


# In the spec's order, which is the request schema's.
FIELDS: tuple[TelemetryField, ...] = (
    TelemetryField("timestamp", "timestamptz", snapshot="last_telemetry_time"),
    TelemetryField("connector_id", "smallint", published=True),
    TelemetryField("state", "varchar", snapshot="state", published=True, frame=True),
    TelemetryField("voltage", "float8", snapshot="voltage", published=True),
    TelemetryField("current", "float8", snapshot="current", published=True),
    TelemetryField("power", "float8", snapshot="power", published=True, frame=True),
    TelemetryField(
        "energy_delivered", "float8", snapshot="energy_delivered", published=True, frame=True
    ),
    TelemetryField("soc", "smallint", snapshot="soc", published=True, frame=True),
    TelemetryField("temperature", "float8", snapshot="temperature", published=True),
    TelemetryField("phase_details", "jsonb"),
    TelemetryField("component_health", "jsonb"),
)

NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
JSON_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS if f.sql_type == "jsonb")
# Field name -> Connector column, for moving a connector's live state.
SNAPSHOT: dict[str, str] = {f.name: f.snapshot for f in FIELDS if f.snapshot}
PUBLISHED: tuple[str, ...] = tuple(f.name for f in FIELDS if f.published)
FRAME: tuple[str, ...] = tuple(f.name for f in FIELDS if f.frame)
