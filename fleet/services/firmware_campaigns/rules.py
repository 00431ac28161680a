"""What every part of a campaign shares: its constants and the checks of what an operator
asks for (stages, halt rules, texts, the package address)."""

import math
from datetime import timedelta
from typing import Any

from django.db import transaction

from fleet.errors import InvalidParameter
from fleet.models import CampaignDevice, FirmwareCampaign
from fleet.signals import firmware_campaign_changed

Status = FirmwareCampaign.Status
State = CampaignDevice.State

UPGRADE_COMMAND = "firmware_upgrade"
MAX_STAGES = 20
MAX_HEALTH_WINDOW_MINUTES = 7 * 24 * 60
DEFAULT_FAULT_RATE_FACTOR = 2.0
# The fault-rate rule compares with the chargers' own rate over this long before the start.
BASELINE = timedelta(days=7)
# Right after an upgrade a single fault would read as a huge hourly rate: the rate after
# is taken over at least this much charger-time (decision: campaign-halt-rules).
MIN_EXPOSURE_HOURS = 1.0
# Platform failures of a command that mean the charger never took it (it was offline):
# the upgrade is sent again, up to TELLUS_CAMPAIGN_MAX_ATTEMPTS times.
NOT_REACHED = ("expired", "no_response")
NEVER_REACHED = "never reached the charger"
_IN_FLIGHT = (State.SENT, State.DOWNLOADING, State.UPGRADING)


def checked_stages(stages: Any) -> list[int]:
    if stages is None:
        return [100]
    if not isinstance(stages, list) or not stages:
        raise InvalidParameter("stages", stages, "stages must be a non-empty list of percentages")
    if len(stages) > MAX_STAGES:
        raise InvalidParameter("stages", len(stages), f"at most {MAX_STAGES} stages")
    for index, percent in enumerate(stages):
        if isinstance(percent, bool) or not isinstance(percent, int) or not 1 <= percent <= 100:
            raise InvalidParameter(
                f"stages.{index}", percent, "each stage is a whole percentage from 1 to 100"
            )
        if index and percent <= stages[index - 1]:
            raise InvalidParameter(
                f"stages.{index}", percent, "stages must be strictly increasing percentages"
            )
    if stages[-1] != 100:
        raise InvalidParameter("stages", stages, "the last stage must reach 100 %")
    return list(stages)


def checked_halt_rules(halt_if: dict[str, Any] | None) -> dict[str, Any]:
    halt_if = dict(halt_if or {})
    failed = halt_if.get("failed_percent")
    if failed is not None and (
        isinstance(failed, bool)
        or not isinstance(failed, int | float)
        or not math.isfinite(failed)
        or not 0 <= failed <= 100
    ):
        raise InvalidParameter("halt_if.failed_percent", failed, "a percentage from 0 to 100")
    codes = halt_if.get("fault_codes") or []
    if not isinstance(codes, list) or any(not isinstance(c, str) or not c for c in codes):
        raise InvalidParameter("halt_if.fault_codes", codes, "a list of fault codes")
    factor = halt_if.get("fault_rate_factor")
    factor = DEFAULT_FAULT_RATE_FACTOR if factor is None else factor
    if (
        isinstance(factor, bool)
        or not isinstance(factor, int | float)
        or not math.isfinite(factor)
        or not 0 < factor <= 1000
    ):
        raise InvalidParameter("halt_if.fault_rate_factor", factor, "a number above 0, up to 1000")
    return {
        "failed_percent": float(failed) if failed is not None else None,
        "fault_codes": sorted(set(codes)),
        "fault_rate_factor": float(factor),
    }


def checked_text(field: str, value: Any, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise InvalidParameter(field, value, f"{field} is required text")
    value = value.strip()
    if len(value) > max_length:
        raise InvalidParameter(field, len(value), f"{field} is at most {max_length} characters")
    return value


def checked_package_url(value: Any) -> str:
    limit = FirmwareCampaign._meta.get_field("package_url").max_length
    url = checked_text("package_url", value, limit)
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in ("https", "http") or not rest or any(c.isspace() for c in url):
        raise InvalidParameter("package_url", url, "package_url must be an http(s) address")
    return url


def announce(campaign: FirmwareCampaign) -> None:
    campaign_id, operator_id = campaign.campaign_id, campaign.operator_id
    transaction.on_commit(
        lambda: firmware_campaign_changed.send(
            sender=FirmwareCampaign, campaign_id=campaign_id, operator_id=operator_id
        )
    )
