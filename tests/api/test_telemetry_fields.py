"""The telemetry request and response schemas declare their fields by hand (bounds and
documentation); they must list exactly the fields of fleet.telemetry_fields."""

from api.schemas.operator import ConnectorOut, TelemetrySampleOut
from api.schemas.reporting import TelemetryUpload
from fleet.telemetry_fields import NAMES, SNAPSHOT


def test_the_upload_schema_has_the_defined_fields_in_their_order():
    assert tuple(TelemetryUpload.model_fields) == NAMES


def test_a_stored_sample_is_answered_with_every_defined_field():
    assert set(TelemetrySampleOut.model_fields) == {"device_id", *NAMES}


def test_a_connector_is_answered_with_its_whole_live_state():
    # The spec calls the connector's state `status`.
    live = {"status" if column == "state" else column for column in SNAPSHOT.values()}
    assert set(ConnectorOut.model_fields) == {"connector_id", *live}
