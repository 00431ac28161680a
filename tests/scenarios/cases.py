"""The simulator's field cases and their documented outcomes, as test data.

Each case says what the simulator does, the alert (detector and code) that must open, the
runbook it must suggest, how the run starts, the engineer's answers where a step asks for
one, and the outcome the documentation gives: derived from the fault dictionary
(diagnostics/data/faults.yaml) and the runbooks (diagnostics/data/runbooks.yaml), step
and branch named in `source`, never from what the engine happens to do.
docs/diagnostics.md ("Field cases and their documented outcomes") mirrors this table;
tests/scenarios/test_cases_table.py keeps the two together."""

from dataclasses import dataclass, field
from typing import Any

POWER_UP = "charger-faulting-on-power-up"
STUCK = "connector-stuck-preparing"
V2G = "v2g-discharge-not-flowing"


@dataclass(frozen=True)
class Outcome:
    """Where a run ends: its status, the step that decided, words of its outcome note, the
    escalation target, the key evidence of the deciding step's check and what a diagnosed
    run leaves to do (subsets: only what the documentation fixes)."""

    status: str
    step: str
    note: str = ""
    target: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    action: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FieldCase:
    key: str
    title: str
    scenario: str
    simulator: str
    detector: str
    fault_code: str
    runbook: str  # "" : the alert suggests none
    start: str  # "alert": from the alert's start button; "by hand": on the charger; "": none
    answers: dict[str, str]  # step → the engineer's answer, from what the case shows
    outcome: Outcome | None
    source: str  # which step and branch of the documentation gives the outcome
    engineer_gets: str = ""


CASES: dict[str, FieldCase] = {
    case.key: case
    for case in [
        FieldCase(
            key="f0421-cluster",
            title="F-0421 cluster on 3.0.1",
            scenario="f0421-cluster",
            simulator="3 TP-DC180 on 3.0.1 at 3 sites; F-0421 at every session start",
            detector="firmware_cluster",
            fault_code="F-0421",
            runbook=POWER_UP,
            start="alert",  # the charger's repeat-fault alert: a cluster names no charger
            answers={"supply-power": "supply-ok"},
            outcome=Outcome(
                status="diagnosed",
                step="firmware-rollout",
                note="Firmware regression",
                evidence={"firmware_version": "3.0.1"},
                action={
                    "kind": "firmware_upgrade",
                    "from_version": "3.0.1",
                    "minimum_version": "3.0.3",
                    "target_version": "3.1.0",
                    "fault_code": "F-0421",
                },
            ),
            source="power-up runbook: fault-log (f0421_cluster) → firmware-cluster (pass) → "
            "firmware-rollout, outcome fail → diagnose firmware_upgrade; F-0421 known issue "
            "3.0.0-3.0.2, fixed in 3.0.3; TP-DC180 latest stable 3.1.0",
        ),
        FieldCase(
            key="f0421-fixed-build",
            title="F-0421 on one charger on a fixed build (3.1.0)",
            scenario="f0421-cluster",  # narrowed to one charger on 3.1.0 by the test
            simulator="1 TP-DC180 on 3.1.0; F-0421 at every session start",
            detector="repeat_fault",
            fault_code="F-0421",
            runbook=POWER_UP,
            start="alert",
            answers={"supply-power": "supply-ok"},
            outcome=Outcome(
                status="resolved",
                step="reboot",
                note="Back online with a fresh heartbeat after the reboot",
                evidence={"reboot_status": "completed", "status": "online"},
            ),
            source="power-up runbook: fault-log (f0421_cluster on its own log) → "
            "firmware-cluster, outcome fail (one charger) → firmware, pass (3.1.0 is "
            "outside 3.0.0-3.0.2 and current) → reboot, pass → resolve; no firmware cluster",
        ),
        FieldCase(
            key="f0204-overheat",
            title="Cabinet over-temperature with a slow fan",
            scenario="f0204-overheat",
            simulator="1 TP-DC180, fan at a third of 1,800 RPM (F-0601); past 85 °C F-0204",
            detector="cabinet_over_temperature",
            fault_code="F-0204",
            runbook=POWER_UP,
            start="alert",
            answers={"supply-power": "supply-ok"},
            outcome=Outcome(
                status="paused",
                step="fault-log",
                note="F-0204 cabinet over-temperature",
                evidence={"pattern": "f0204"},
            ),
            source="power-up runbook: fault-log, evidence pattern f0204 → pause with the "
            "F-0204 note (no separate runbook; the F-0204 dictionary entry's steps apply)",
        ),
        FieldCase(
            key="heartbeat-loss",
            title="Heartbeat lost, then back after a reboot",
            scenario="heartbeat-loss",
            simulator="1 TP-DC180 on 3.1.0 silent from 2 min in, heard again later",
            detector="heartbeat_lost",
            fault_code="F-0301",
            runbook="",
            start="by hand",  # the power-up runbook, on the charger
            answers={"supply-power": "supply-ok"},
            outcome=Outcome(
                status="resolved",
                step="reboot",
                note="Back online with a fresh heartbeat after the reboot",
                evidence={"reboot_status": "completed", "status": "online"},
            ),
            source="F-0301 entry, last step: a controlled reboot; no runbook lists F-0301, so "
            "the power-up runbook is started by hand: reboot step, check judged 90 s after "
            "the reboot completed, online with a heartbeat under 60 s → resolve",
            engineer_gets="no suggested runbook; the F-0301 dictionary entry",
        ),
        FieldCase(
            key="stuck-preparing",
            title="Connector stuck in preparing",
            scenario="stuck-preparing",
            simulator="vehicles plug in and are never authorised (no auth_ok)",
            detector="stuck_preparing",
            fault_code="",
            runbook=STUCK,
            start="alert",
            answers={"vehicle-handshake": "unclear"},
            outcome=Outcome(
                status="escalated",
                step="auth",
                note="No auth_ok before preparing",
                target="partner_cpms",
                evidence={"auth_ok": None},
            ),
            source="stuck-preparing runbook: vehicle-handshake (one car tried: unclear → "
            "next) → auth, auth_before_preparing fail → escalate to partner_cpms",
        ),
        FieldCase(
            key="v2g-refused",
            title="V2G discharge refused by the car",
            scenario="v2g-refused",
            simulator="1 TP-DC360 (V2G) on 4.0.0; every discharge: F-0702, command failed",
            detector="repeat_fault",
            fault_code="F-0702",
            runbook=V2G,
            start="alert",
            answers={},
            outcome=Outcome(
                status="closed",
                step="bms-refusal",
                note="vehicle_side: F-0702",
            ),
            source="F-0702 entry (the charger is not at fault) and the V2G runbook's "
            "bms-refusal step: F-0702 since the discharge was asked for → close vehicle_side. "
            "A discharge failed with F-0702 in its result goes from command-accepted to "
            "bms-refusal (decision: bms-refused-discharge)",
        ),
        FieldCase(
            key="reconnect-storm",
            title="Reconnect storm",
            scenario="reconnect-storm",
            simulator="drops off for 70 s and comes back, about seven times in ten minutes",
            detector="reconnect_storm",
            fault_code="F-0302",
            runbook="",
            start="",
            answers={},
            outcome=None,
            source="no runbook lists F-0302 or the reconnect-storm alert (the V2G runbook "
            "only names it in a note); the F-0302 dictionary entry's steps apply",
            engineer_gets="the alert and the F-0302 entry: site network, signal, "
            "firewall idle timeout, a reboot if only this charger",
        ),
        FieldCase(
            key="unknown-code",
            title="An undocumented fault code",
            scenario="unknown-code",
            simulator="F-0999 now and then, a code the dictionary does not know",
            detector="repeat_fault",
            fault_code="F-0999",
            runbook="",
            start="",
            answers={},
            outcome=None,
            source="no dictionary entry, no runbook; the dictionary's unknown-codes "
            "checklist (decision: undocumented-report)",
            engineer_gets="the undocumented-code report: each payload as sent, the charger, "
            "its firmware then, the time range, telemetry within ±5 min",
        ),
    ]
}
