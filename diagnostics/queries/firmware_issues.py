"""Firmware versions read through the fault dictionary: which known issues (a code's
`known_firmware_issues`) a model's version is inside, and which of an operator's chargers
run a version inside one — what the console's Firmware page and a fault entry's "upgrade"
link say. Versions that do not compare with an issue's range (another numbering scheme)
are never counted as affected (decision: firmware-schemes)."""

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count

from diagnostics.checks import model_catalogue
from diagnostics.models import FaultCode
from diagnostics.services.faults import version_order
from diagnostics.versions import compare, within
from fleet.services.tenancy import devices_of


@dataclass(frozen=True)
class KnownIssue:
    """One known firmware issue of a dictionary entry."""

    fault_code: str
    title: str
    summary: str
    models: tuple[str, ...]  # empty: every model
    affected_from: str | None
    affected_to: str | None
    fixed_in: str | None

    def applies_to(self, model: str) -> bool:
        return not self.models or model in self.models

    def affects(self, model: str, version: str) -> bool:
        """True only when the version is inside the range; an issue with no range, or a
        version of another scheme, says nothing about it."""
        if not self.applies_to(model) or not (self.affected_from or self.affected_to):
            return False
        return within(version, self.affected_from, self.affected_to) is True

    @property
    def range_words(self) -> str:
        """The affected range in words: "3.0.0 to 3.0.2" (with an en dash), "up to 3.0.2",
        "from 4.0.0", or "4.0.0" for a single build."""
        low, high = self.affected_from, self.affected_to
        if low and high:
            return low if low == high else f"{low}\N{EN DASH}{high}"
        return f"from {low}" if low else f"up to {high}" if high else ""


def known_issues() -> list[KnownIssue]:
    """Every known firmware issue in the dictionary, by code."""
    issues = []
    for fault in FaultCode.objects.exclude(known_firmware_issues=[]).order_by("code"):
        for issue in fault.known_firmware_issues or []:
            if not isinstance(issue, dict):
                continue
            issues.append(
                KnownIssue(
                    fault_code=fault.code,
                    title=fault.title,
                    summary=str(issue.get("summary") or ""),
                    models=tuple(issue.get("models") or ()),
                    affected_from=issue.get("affected_from") or None,
                    affected_to=issue.get("affected_to") or None,
                    fixed_in=issue.get("fixed_in") or None,
                )
            )
    return issues


def latest_stable(model: str) -> str | None:
    """The model's newest stable build from the model catalogue, if it names one."""
    return (model_catalogue().get(model) or {}).get("latest_stable") or None


@dataclass(frozen=True)
class FleetVersion:
    version: str
    chargers: int
    issues: tuple[KnownIssue, ...]
    behind_latest: bool  # older than the model's latest stable build (comparable only)


@dataclass(frozen=True)
class FleetModel:
    model: str
    chargers: int
    latest_stable: str | None
    versions: tuple[FleetVersion, ...]


def fleet_firmware(
    operator_id: str | None, counts: list[tuple[str, str, int]] | None = None
) -> list[FleetModel]:
    """Per model of the operator's chargers (most chargers first), the versions they run in
    version order with how many chargers run each, the known issues each is inside and
    whether it is behind the model's latest stable build. `counts` are (model, version,
    chargers) groups when the caller has them already; otherwise one grouped query."""
    if counts is None:
        rows = (
            devices_of(operator_id)
            .order_by()
            .values_list("model", "firmware_version")
            .annotate(n=Count("pk"))
        )
        counts = [(model, version, n) for model, version, n in rows]
    issues = known_issues()
    by_model: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for model, version, n in counts:
        by_model[model].append((version, n))
    models = []
    for model, versions in by_model.items():
        latest = latest_stable(model)
        listed = tuple(
            FleetVersion(
                version=version,
                chargers=n,
                issues=tuple(issue for issue in issues if issue.affects(model, version)),
                behind_latest=bool(latest) and compare(version, latest) == -1,
            )
            for version, n in sorted(versions, key=lambda pair: version_order(pair[0]))
        )
        total = sum(n for _, n in versions)
        models.append(FleetModel(model, total, latest, listed))
    models.sort(key=lambda m: (-m.chargers, m.model))
    return models


@dataclass(frozen=True)
class UpgradeOffer:
    """The operator's chargers of one model inside a code's known issue, and the build
    that leaves it: what a fault entry offers to upgrade."""

    model: str
    versions: tuple[str, ...]
    chargers: int
    target: str


def upgrade_offers(operator_id: str | None, code: str) -> list[UpgradeOffer]:
    """For each model a known issue of `code` affects in the operator's fleet: the
    affected versions, how many chargers run them, and the target — the model's latest
    stable build, else the issue's fix (none offered when neither is known, or when the
    target itself is inside the range)."""
    issues = [issue for issue in known_issues() if issue.fault_code == code]
    if not issues:
        return []
    offers = []
    for model in fleet_firmware(operator_id):
        for issue in issues:
            if not issue.applies_to(model.model):
                continue
            hit = [v for v in model.versions if issue in v.issues]
            target = model.latest_stable or issue.fixed_in
            if not hit or not target or issue.affects(model.model, target):
                continue
            offers.append(
                UpgradeOffer(
                    model=model.model,
                    versions=tuple(v.version for v in hit),
                    chargers=sum(v.chargers for v in hit),
                    target=target,
                )
            )
    return offers
