"""One bad row never stops a sweep: texts for bounded columns are built safely, and each
detector, and each subject within a detector, runs on its own savepoint, its failure
logged and reported while the rest of the sweep goes on."""

import json
import logging
import math

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from diagnostics import tasks
from diagnostics.models import Alert
from diagnostics.services import alerts, detectors
from diagnostics.services.loader import load_faults, load_runbooks
from fleet.models import TelemetrySample


@pytest.fixture
def content(db):
    load_faults()
    load_runbooks()


@pytest.fixture
def two_operators(content, make_client, assigned_device):
    """Operator A's charger stored absurd readings (before the API bounded them);
    operator B's charger really is too hot."""
    a = assigned_device(make_client("Operator A")[0], model="TP-DC180")
    b = assigned_device(make_client("Operator B")[0], model="TP-DC180")
    for device, connector_id, temperature in ((a, 1, 1e200), (a, 2, math.nan), (b, 1, 80.0)):
        TelemetrySample.objects.create(  # straight through the ORM, as old rows were stored
            device=device, connector_id=connector_id, timestamp=timezone.now(),
            state="charging", voltage=400, current=30, power=10, energy_delivered=1,
            temperature=temperature,
        )  # fmt: skip
    return a, b


def test_absurd_readings_of_one_operator_do_not_stop_alerts_for_another(two_operators):
    a, b = two_operators
    report = detectors.run_detectors(timezone.now())

    assert all(not r["error"] and not r["failed"] for r in report.values())
    b_alert = Alert.objects.get(operator_id=b.site.operator_id)
    assert (b_alert.detector, b_alert.title) == ("over_temperature", "Connector 1 at 80.0 °C")
    # 1e200 °C still says something is wrong, in a title that fits its column; NaN is no
    # temperature at all, so connector 2 has no alert.
    (a_alert,) = Alert.objects.filter(operator_id=a.site.operator_id)
    assert a_alert.title == "Connector 1 at 1e+200 °C"
    assert a_alert.evidence["temperature"] == "1e+200"


def test_a_failing_subject_is_logged_and_reported_and_the_sweep_goes_on(
    two_operators, monkeypatch, caplog
):
    """The original failure, put back: the unguarded title of 1e200 °C overflows
    Alert.title in PostgreSQL. Only operator A's subject fails."""
    a, b = two_operators
    monkeypatch.setattr(detectors, "number", lambda value: f"{value:.1f}")
    monkeypatch.setattr(alerts, "bounded", lambda text, max_length: text)

    with caplog.at_level(logging.ERROR, logger="diagnostics.services.detectors"):
        report = detectors.run_detectors(timezone.now())

    assert report["over_temperature"]["failed"] == [f"{a.device_id}#1"]
    assert report["over_temperature"]["opened"] == 1
    assert Alert.objects.get().operator_id == b.site.operator_id
    (record,) = caplog.records
    assert f"{a.device_id}#1" in record.getMessage() and record.exc_info is not None


def test_a_failing_detector_is_logged_and_reported_and_the_others_run(
    two_operators, monkeypatch, caplog
):
    def broken(now):
        with connection.cursor() as cursor:  # a real database error, aborting the statement
            cursor.execute("SELECT 1 / 0")
        return []

    monkeypatch.setattr(detectors, "DETECTORS", (broken, detectors.over_temperature))
    with caplog.at_level(logging.ERROR):
        report = tasks.detect()  # the Celery task: reports, never raises

    assert report["broken"]["error"] is True
    assert report["over_temperature"]["opened"] == 2
    assert any(r.exc_info and "detector broken failed" in r.getMessage() for r in caplog.records)
    assert any("detectors failed" in r.getMessage() for r in caplog.records)


# --- Texts for bounded columns, for any number ------------------------------------------------


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_any_reading_formats_short(value):
    text = alerts.number(value)
    assert len(text) <= 10
    if math.isfinite(value) and abs(value) < 1e5:
        assert float(text) == pytest.approx(value, abs=0.05)


@given(st.text(max_size=500), st.integers(min_value=1, max_value=300))
def test_bounded_text_fits_and_keeps_what_fits(text, max_length):
    cut = alerts.bounded(text, max_length)
    assert len(cut) <= max_length
    assert cut == text if len(text) <= max_length else cut.startswith(text[: max_length - 1])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)


def numbers_in(value):
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [n for item in value for n in numbers_in(item)]
    return [value] if isinstance(value, int | float) and not isinstance(value, bool) else []


@given(json_values | st.integers(min_value=-(10**30), max_value=10**30))
def test_evidence_is_always_json_postgresql_accepts_and_gives_back_readable(value):
    safe = alerts.json_safe(value)
    json.dumps(safe, allow_nan=False)  # raises on NaN / Infinity
    assert all(abs(n) <= alerts.JSON_NUMBER_MAX for n in numbers_in(safe))
