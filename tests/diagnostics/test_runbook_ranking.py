"""One runbook ranking, driven by the runbook data (linked fault codes, suggest_when
rules, applicable models), serves both the suggestions endpoint and the runbook an
alert suggests; no runbook is named in Python code."""

import importlib
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.apps import apps
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from diagnostics.models import Alert, Runbook
from diagnostics.services import detectors
from diagnostics.services.loader import (
    DATA_DIR,
    DiagnosticsDataError,
    _suggest_when,
    digest,
    load_faults,
    load_runbooks,
)
from diagnostics.services.runbooks.suggestions import Signals, rank, suggest
from fleet.actors import Actor
from fleet.models import ConnectivityChange, DeviceEvent, TelemetrySample

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def content(db):
    load_faults()
    load_runbooks()


def faults(device, code, times=3):
    for minutes in range(times, 0, -1):
        DeviceEvent.objects.create(
            device=device, connector_id=1, event_type="fault", fault_code=code,
            timestamp=timezone.now() - timezone.timedelta(minutes=minutes), data={},
        )  # fmt: skip


def hot(device, temperature=80.0):
    TelemetrySample.objects.create(
        device=device, connector_id=1, timestamp=timezone.now(), state="charging", voltage=400,
        current=30, power=10, energy_delivered=1, temperature=temperature,
    )  # fmt: skip


# --- Alerts and suggestions agree -------------------------------------------------------------


def test_an_alert_suggests_what_the_suggestions_endpoint_ranks_first(api, acme, content, device):
    # F-0421 is linked to two runbooks; the preparing connector decides, for both.
    device.connectors.create(connector_id=1, state="preparing")
    faults(device, "F-0421")
    detectors.run_detector(detectors.repeat_fault, timezone.now())
    alert = Alert.objects.get()
    ranked = api.get(
        f"/v1/operator/devices/{device.device_id}/runbook-suggestions", acme[1]
    ).json()["data"]
    assert alert.suggested_runbook == ranked[0]["slug"] == "connector-stuck-preparing"
    assert ranked[0]["reasons"] == ["recent fault codes: F-0421", "a connector is in preparing"]


def test_an_alert_suggests_only_a_runbook_about_its_own_code_or_detector(content, device):
    # The device faulted just after coming online, which ranks the power-up runbook, but
    # nothing in the data relates a runbook to over-temperature (F-0203): the alert
    # suggests none.
    came_online = timezone.now() - timedelta(minutes=3)
    ConnectivityChange.objects.create(
        device=device, operator_id=device.site.operator_id, status="online", at=came_online
    )
    DeviceEvent.objects.create(
        device=device, operator_id=device.site.operator_id, connector_id=1,
        event_type="fault", fault_code="F-0411", timestamp=came_online + timedelta(minutes=1),
        data={"fault_code": "F-0411"},
    )  # fmt: skip
    hot(device)
    detectors.run_detector(detectors.over_temperature, timezone.now())
    assert suggest(device)[0]["slug"] == "charger-faulting-on-power-up"
    assert Alert.objects.get().suggested_runbook == ""


def test_the_ranking_follows_the_data_not_the_code(content, device):
    """An admin edit of a runbook's rules changes what alerts and suggestions say."""
    Runbook.objects.filter(slug="connector-stuck-preparing").update(
        suggest_when=[{"open_alert": ["over_temperature"], "score": 9}]
    )
    hot(device)
    detectors.run_detector(detectors.over_temperature, timezone.now())
    assert Alert.objects.get().suggested_runbook == "connector-stuck-preparing"
    first = suggest(device)[0]
    assert (first["slug"], first["reasons"]) == (
        "connector-stuck-preparing",
        ["an open alert: over-temperature"],
    )


def test_an_unfinished_discharge_ranks_the_v2g_runbook_and_a_completed_one_does_not(
    content, device
):
    from fleet.services.commands import queue_command, report_command_status

    command = queue_command(
        Actor.platform(), device, "discharge", {"discharge_power": 11}, connector_id=1
    )
    assert "v2g-discharge-not-flowing" in [s["slug"] for s in suggest(device)]
    report_command_status(device.device_id, command.command_id, "completed", timezone.now())
    assert "v2g-discharge-not-flowing" not in [s["slug"] for s in suggest(device)]


def test_no_runbook_slug_is_named_in_python_code():
    slugs = [r["slug"] for r in yaml.safe_load((DATA_DIR / "runbooks.yaml").read_text())]
    sources = [*(ROOT / "diagnostics").rglob("*.py"), *(ROOT / "api").rglob("*.py")]
    naming = {
        (str(path.relative_to(ROOT)), slug)
        for path in sources
        for slug in slugs
        if slug in path.read_text()
    }
    assert naming == set()


# --- The ranking as a function ----------------------------------------------------------------

CODES = ["F-1", "F-2", "F-3"]
CONDITION_VALUES = {
    "device_status": ["online", "offline"],
    "connector_state": ["idle", "preparing", "fault"],
    "recent_command": ["discharge", "start"],
    "open_alert": ["repeat_fault", "over_temperature"],
}
rules = st.sampled_from(sorted(CONDITION_VALUES)).flatmap(
    lambda condition: st.fixed_dictionaries(
        {
            condition: st.lists(
                st.sampled_from(CONDITION_VALUES[condition]), min_size=1, unique=True
            ),
            "score": st.integers(1, 10),
        }
    )
)
runbook_lists = st.lists(
    st.builds(
        lambda codes, when, models: (codes, when, models),
        st.lists(st.sampled_from(CODES), unique=True),
        st.lists(rules, max_size=3),
        st.sampled_from([[], ["TP-DC180"]]),
    ),
    max_size=5,
).map(
    lambda specs: [
        Runbook(
            slug=f"rb-{n}",
            title=f"Runbook {n}",
            linked_fault_codes=codes,
            suggest_when=when,
            applicable_models=models,
        )
        for n, (codes, when, models) in enumerate(specs)
    ]
)


def subsets(values):
    return st.frozensets(st.sampled_from(values))


signals = st.builds(
    Signals,
    fault_codes=subsets(CODES),
    device_status=st.sampled_from([None, "online", "offline"]),
    connector_states=subsets(CONDITION_VALUES["connector_state"]),
    recent_commands=subsets(CONDITION_VALUES["recent_command"]),
    open_alerts=subsets(CONDITION_VALUES["open_alert"]),
    model=st.sampled_from([None, "TP-DC180", "TP-AC22"]),
)


def expected_score(runbook: Runbook, signals: Signals) -> int:
    score = 3 * len(signals.fault_codes & set(runbook.linked_fault_codes))
    for rule in runbook.suggest_when:
        (condition,) = (key for key in rule if key != "score")
        if signals.observed(condition) & set(rule[condition]):
            score += rule["score"]
    if score and signals.model and runbook.applicable_models:
        score -= signals.model not in runbook.applicable_models
    return score


@given(runbook_lists, signals)
def test_each_runbook_scores_its_matching_codes_and_rules_best_first(runbooks, signals):
    ranked = rank(runbooks, signals)
    expected = {r.slug: expected_score(r, signals) for r in runbooks}
    assert {s.slug: s.score for s in ranked} == {
        slug: score for slug, score in expected.items() if score > 0
    }
    assert [s.slug for s in ranked] == sorted(
        (s.slug for s in ranked), key=lambda slug: (-expected[slug], slug)
    )
    assert all(s.reasons and s.matched for s in ranked)


@given(runbook_lists, signals, signals)
def test_more_signals_never_rank_a_runbook_lower(runbooks, some, more):
    union = Signals(
        fault_codes=some.fault_codes | more.fault_codes,
        device_status=some.device_status,
        connector_states=some.connector_states | more.connector_states,
        recent_commands=some.recent_commands | more.recent_commands,
        open_alerts=some.open_alerts | more.open_alerts,
        model=some.model,
    )
    before = {s.slug: s.score for s in rank(runbooks, some)}
    after = {s.slug: s.score for s in rank(runbooks, union)}
    assert all(after.get(slug, 0) >= score for slug, score in before.items())


# --- The rules in the data are validated ------------------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        {"device_status": ["offline"]},  # no score
        {"device_status": ["offline"], "score": 0},
        {"device_status": ["offline"], "score": 11},
        {"device_status": ["offline"], "score": True},
        {"device_status": ["asleep"], "score": 2},
        {"device_status": "offline", "score": 2},
        {"device_status": [], "score": 2},
        {"connector_state": ["stuck"], "score": 2},
        {"open_alert": ["no_such_detector"], "score": 2},
        {"recent_command": ["Drop Table"], "score": 2},
        {"recent_command": [["discharge"]], "score": 2},
        {"device_status": ["offline"], "connector_state": ["fault"], "score": 2},
        {"weather": ["rain"], "score": 2},
        "device_status: offline",
    ],
)
def test_a_bad_ranking_rule_is_refused(rule):
    with pytest.raises(DiagnosticsDataError, match="suggest_when"):
        _suggest_when("rb", [rule])


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12)
    | st.sampled_from(["score", "device_status", "offline", "open_alert", "repeat_fault"]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(
        st.sampled_from(["score", "device_status", "connector_state", "open_alert", "x"]), inner
    ),
    max_leaves=8,
)  # fmt: skip


@given(json_like)
def test_any_rules_load_or_are_refused_with_a_data_error(rules):
    try:
        valid = _suggest_when("rb", rules)
    except DiagnosticsDataError:
        return
    rank([Runbook(slug="rb", title="rb", suggest_when=valid)], Signals())


def test_a_file_with_a_bad_rule_is_not_loaded(content, tmp_path):
    broken = yaml.safe_load((DATA_DIR / "runbooks.yaml").read_text())
    broken[0]["suggest_when"] = [{"open_alert": ["made_up"], "score": 3}]
    path = tmp_path / "runbooks.yaml"
    path.write_text(yaml.safe_dump(broken))
    with pytest.raises(DiagnosticsDataError, match="made_up"):
        load_runbooks(path)


def test_runbooks_loaded_before_the_rules_existed_take_them_on_the_next_load(content):
    """The migration re-digests rows still holding the last load, so the next load
    updates them instead of keeping them as admin edits."""
    migration = importlib.import_module("diagnostics.migrations.0004_runbook_suggest_when")
    for runbook in Runbook.objects.all():  # as the previous release loaded them
        old = {name: getattr(runbook, name) for name in migration.OLD_RUNBOOK_FIELDS}
        runbook.suggest_when, runbook.loaded_digest = [], digest(old)
        runbook.follows_command = ""
        runbook.save()
    migration.carry_runbook_digests(apps, None)
    later = importlib.import_module("diagnostics.migrations.0009_runbook_follows_command")
    later.carry_runbook_digests(apps, None)
    report = load_runbooks()
    assert sorted(report.updated) == sorted(Runbook.objects.values_list("slug", flat=True))
    assert all(runbook.suggest_when for runbook in Runbook.objects.all())


def test_runbooks_loaded_before_they_named_a_followed_command_take_it_on_the_next_load(content):
    migration = importlib.import_module("diagnostics.migrations.0009_runbook_follows_command")
    for runbook in Runbook.objects.all():  # as the previous release loaded them
        old = {name: getattr(runbook, name) for name in migration.OLD_RUNBOOK_FIELDS}
        runbook.follows_command, runbook.loaded_digest = "", digest(old)
        runbook.save()
    migration.carry_runbook_digests(apps, None)
    report = load_runbooks()
    assert report.updated == ["v2g-discharge-not-flowing"]  # the others name none
    assert Runbook.objects.get(slug="v2g-discharge-not-flowing").follows_command == "discharge"
