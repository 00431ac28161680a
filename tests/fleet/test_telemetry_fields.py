"""fleet.telemetry_fields is the one definition of a telemetry sample's fields: the
models, the live message's declared shape and the definition must agree, so a field
added on one side only fails here."""

from django.db import connection

from fleet.live.messages import ConnectorReading
from fleet.models import Connector, TelemetrySample
from fleet.telemetry_fields import FIELDS, FRAME, NAMES, PUBLISHED, SNAPSHOT

# A column's database type -> the element type the batch insert casts its array to.
CASTS = {
    "timestamp with time zone": "timestamptz",
    "smallint": "smallint",
    "double precision": "float8",
    "jsonb": "jsonb",
}


def _columns(model, *, besides: set[str]) -> set[str]:
    return {f.name for f in model._meta.concrete_fields} - besides


def _cast(model, name: str) -> str:
    db_type = model._meta.get_field(name).db_type(connection)
    return "varchar" if db_type.startswith("varchar") else CASTS[db_type]


def test_every_sample_column_is_a_defined_field_and_back():
    # The owner stamps are the platform's (fleet/models/stamps.py), not the charger's.
    platform = {"id", "device", "received_at", "extra", "operator", "site"}
    assert _columns(TelemetrySample, besides=platform) == set(NAMES)


def test_each_field_is_cast_to_its_column_type():
    for field in FIELDS:
        assert field.sql_type == _cast(TelemetrySample, field.name), field.name


def test_every_live_connector_column_is_a_snapshot_of_a_field_and_back():
    assert _columns(Connector, besides={"id", "device", "connector_id", "updated_at"}) == set(
        SNAPSHOT.values()
    )


def test_a_snapshot_column_has_its_field_type():
    for name, column in SNAPSHOT.items():
        assert _cast(Connector, column) == _cast(TelemetrySample, name), name


def test_the_published_connector_is_declared_field_for_field():
    assert tuple(ConnectorReading.__annotations__) == PUBLISHED


def test_frame_fields_are_published_and_kept_under_their_own_name():
    # The stream starts from the Connector columns and follows the published messages.
    for name in FRAME:
        assert name in PUBLISHED
        assert SNAPSHOT.get(name) == name
