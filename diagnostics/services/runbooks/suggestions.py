"""Ranking runbooks for a device: one ranking, driven by the runbook data
(linked_fault_codes, suggest_when, applicable_models), serves the suggestions endpoint and
the runbook an alert suggests."""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from diagnostics.checks import REBOOT_WAIT_SECONDS, V2G_CODES
from diagnostics.models import Alert, Runbook
from diagnostics.words import DETECTORS
from fleet.models import Command, ConnectivityChange, Device, DeviceEvent

FAULT_CODE_SCORE = 3
MODEL_MISMATCH_PENALTY = 1
SUGGESTION_DAYS = 7
REASONS = {
    "device_status": "the device is {}",
    "connector_state": "a connector is in {}",
    "recent_command": "a recent {} command has not completed",
    "open_alert": "an open alert: {}",
    "power_up": "{}",
}
# The power-up runbook's triggers, as signs a suggest_when `power_up` rule names: still
# not online once a reboot completed, or a fault the charger reported within BOOT_WINDOW
# of coming online (not a V2G code: those are the V2G runbook's).
POWER_UP_SIGNS = {
    "not_online_after_reboot": "not back online since its reboot completed",
    "fault_after_boot": "a fault soon after it came online",
}
BOOT_WINDOW = timedelta(minutes=5)
# The reboot's boot sequence, as the reboot step's check waits for it.
REBOOT_GRACE = timedelta(seconds=REBOOT_WAIT_SECONDS)


@dataclass(frozen=True)
class Signals:
    """What the ranking looks at: recent fault codes, device and connector state,
    unfinished commands and open alerts (by detector)."""

    fault_codes: frozenset[str] = frozenset()
    device_status: str | None = None
    connector_states: frozenset[str] = frozenset()
    recent_commands: frozenset[str] = frozenset()
    open_alerts: frozenset[str] = frozenset()
    power_up: frozenset[str] = frozenset()  # POWER_UP_SIGNS seen
    model: str | None = None
    v2g_capable: bool = False

    def observed(self, condition: str) -> frozenset[str]:
        return {
            "device_status": frozenset({self.device_status} if self.device_status else ()),
            "connector_state": self.connector_states,
            "recent_command": self.recent_commands,
            "open_alert": self.open_alerts,
            "power_up": self.power_up,
        }[condition]


@dataclass(frozen=True)
class Suggestion:
    slug: str
    title: str
    score: int
    reasons: tuple[str, ...]
    matched: frozenset[str]  # "fault_code:F-0421", "open_alert:firmware_cluster", …

    def as_dict(self) -> dict[str, Any]:
        return {"slug": self.slug, "title": self.title, "score": self.score,
                "reasons": list(self.reasons)}  # fmt: skip


def fits_model(runbook: Runbook, model: str, v2g_capable: bool) -> bool:
    """Whether the runbook applies to a charger of `model`. A listed model followed by
    "V2G" ("TP-DC180 V2G") is that model's V2G variant: a charger of the model that is V2G
    capable. No models listed: every model."""
    if not runbook.applicable_models:
        return True
    for listed in runbook.applicable_models:
        name, *variant = listed.split()
        if model == name and (not variant or v2g_capable):
            return True
    return False


def rank(runbooks: Iterable[Runbook], signals: Signals) -> list[Suggestion]:
    """Score runbooks by their data against the signals; best first, ties by slug.
    Runbooks that score nothing are left out."""
    ranked = []
    for runbook in runbooks:
        score, reasons, matched = 0, [], set()
        codes = sorted(signals.fault_codes & set(runbook.linked_fault_codes))
        if codes:
            score += FAULT_CODE_SCORE * len(codes)
            reasons.append(f"recent fault codes: {', '.join(codes)}")
            matched |= {f"fault_code:{code}" for code in codes}
        for rule in runbook.suggest_when:
            condition = next(key for key in rule if key != "score")
            hits = sorted(signals.observed(condition) & set(rule[condition]))
            if hits:
                score += rule["score"]
                named = [DETECTORS.get(hit) or POWER_UP_SIGNS.get(hit, hit) for hit in hits]
                reasons.append(REASONS[condition].format(" / ".join(named)))
                matched |= {f"{condition}:{hit}" for hit in hits}
        if score and signals.model and runbook.applicable_models:
            if not fits_model(runbook, signals.model, signals.v2g_capable):
                score -= MODEL_MISMATCH_PENALTY
                reasons.append(f"not listed for model {signals.model}")
        if score > 0:
            ranked.append(
                Suggestion(runbook.slug, runbook.title, score, tuple(reasons), frozenset(matched))
            )
    return sorted(ranked, key=lambda suggestion: (-suggestion.score, suggestion.slug))


def device_signals(
    device: Device, now: datetime | None = None, days: int = SUGGESTION_DAYS
) -> Signals:
    """A device's signals: fault codes and unfinished commands of the last `days`, its
    status, its connectors' states and the detectors of its open alerts — all under its
    current operator (a charger handed over brings none of its previous operator's)."""
    since = (now or timezone.now()) - timedelta(days=days)
    owner = device.site.operator_id if device.site_id else None
    codes = (
        DeviceEvent.objects.filter(
            device=device, operator_id=owner, event_type="fault", timestamp__gte=since
        )
        .exclude(fault_code="")
        .values_list("fault_code", flat=True)
    )
    commands = (
        # The platform's own commands (no operator) count for whoever owns it now.
        Command.objects.filter(device=device, created_at__gte=since)
        .filter(Q(operator_id=owner) | Q(operator__isnull=True))
        .exclude(status=Command.Status.COMPLETED)
        .values_list("command", flat=True)
    )
    alerts = Alert.objects.filter(device=device, operator_id=owner, status__in=Alert.ACTIVE)
    return Signals(
        fault_codes=frozenset(codes),
        device_status=device.status,
        connector_states=frozenset(device.connectors.values_list("state", flat=True)),
        recent_commands=frozenset(commands),
        open_alerts=frozenset(alerts.values_list("detector", flat=True)),
        power_up=power_up_signs(device, owner, since, now or timezone.now()),
        model=device.model,
        v2g_capable=device.v2g_capable,
    )


def power_up_signs(
    device: Device, owner: str | None, since: datetime, now: datetime
) -> frozenset[str]:
    """The power-up runbook's triggers seen on the device since `since`: not online since
    its latest reboot completed (at least the boot time ago), or a fault reported within
    BOOT_WINDOW of its latest coming online."""
    signs = set()
    reboot = (
        Command.objects.filter(
            device=device, command="reboot", status=Command.Status.COMPLETED,
            updated_at__gte=since, updated_at__lte=now - REBOOT_GRACE,
        )
        .filter(Q(operator_id=owner) | Q(operator__isnull=True))
        .order_by("-updated_at")
        .first()
    )  # fmt: skip
    if (
        reboot is not None
        and device.status != Device.Status.ONLINE
        and not ConnectivityChange.objects.filter(
            device=device, status=Device.Status.ONLINE, at__gte=reboot.updated_at
        ).exists()
    ):
        signs.add("not_online_after_reboot")
    came_online = (
        ConnectivityChange.objects.filter(
            device=device, operator_id=owner, status=Device.Status.ONLINE, at__gte=since
        )
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    if (
        came_online is not None
        and DeviceEvent.objects.filter(
            device=device, operator_id=owner, event_type="fault",
            source=DeviceEvent.Source.CHARGER,
            timestamp__gte=came_online, timestamp__lte=came_online + BOOT_WINDOW,
        )
        # A refused or broken discharge is the V2G runbook's, whenever it happens.
        .exclude(fault_code__in=V2G_CODES)
        .exists()
    ):  # fmt: skip
        signs.add("fault_after_boot")
    return frozenset(signs)


def suggest(device: Device, days: int = SUGGESTION_DAYS) -> list[dict[str, Any]]:
    """Runbooks ranked for a device by its recent fault codes, its state and its model."""
    signals = device_signals(device, days=days)
    return [suggestion.as_dict() for suggestion in rank(Runbook.objects.all(), signals)]


def suggest_for_alert(device: Device | None, detector: str, fault_code: str = "") -> str:
    """The runbook an alert suggests: the best-ranked one (the alert counting as an open
    alert of its detector) that matches the alert's own fault code or detector."""
    signals = device_signals(device) if device else Signals()
    own = {f"open_alert:{detector}"} | ({f"fault_code:{fault_code}"} if fault_code else set())
    signals = replace(
        signals,
        fault_codes=signals.fault_codes | ({fault_code} if fault_code else set()),
        open_alerts=signals.open_alerts | {detector},
    )
    ranked = rank(Runbook.objects.all(), signals)
    return next((suggestion.slug for suggestion in ranked if suggestion.matched & own), "")
