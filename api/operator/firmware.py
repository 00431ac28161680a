"""Firmware campaigns (extensions): a staged rollout of one firmware version over your
chargers, with a health window after each stage and rules that halt it. Every rule is
fleet.services.firmware_campaigns', the same the console uses; the platform drives the
campaign between calls (a periodic task)."""

from typing import Literal

from django.http import HttpRequest
from ninja import Query, Router

from api.auth import operator_read, operator_write
from api.envelope import success_body
from api.operator.common import EXTENSION_TAG, QUERY_ERRORS, PageParams, extension, page_body
from api.schemas.common import Envelope, ErrorEnvelope, Page
from api.schemas.firmware import CampaignCreate, CampaignOut, CampaignSummary
from fleet.actors import actor_from_request
from fleet.queries import firmware as firmware_queries
from fleet.queries.paging import paginate
from fleet.services import firmware_campaigns

router = Router(tags=["Operator — Firmware campaigns", EXTENSION_TAG])
WRITE_ERRORS = {404: ErrorEnvelope, 409: ErrorEnvelope, **QUERY_ERRORS}
BASE = "/firmware-campaigns"


class CampaignFilters(PageParams):
    status: Literal["running", "paused", "halted", "cancelled", "completed"] | None = None


def _detail(request: HttpRequest, campaign_id: str) -> dict:
    detail = firmware_queries.campaign_detail(request.auth.operator_id, campaign_id)
    return success_body(CampaignOut.of_detail(detail))


@router.post(
    BASE,
    auth=operator_write,
    response={200: Envelope[CampaignOut], **WRITE_ERRORS},
    summary="Start a staged firmware rollout",
    openapi_extra=extension(),
)
def create(request: HttpRequest, payload: CampaignCreate):
    """Exactly one of `device_ids` and `selection`. Chargers are put into stages by
    cumulative percent in device_id order; each stage's upgrades go out as device-wide
    `firmware_upgrade` commands (decision: device-wide-commands), and the next stage starts
    `health_window_minutes` after the last charger of the stage finished, unless a halt
    rule holds. A charger already on the target, or (chosen by selection) in another
    active campaign, is skipped with the reason; one named in `device_ids` that is in
    another active campaign is 409/4001. An unknown or foreign charger or site is
    404/3001; bad stages, fields or nothing to upgrade 400/1001."""
    selection = payload.selection.model_dump(exclude_none=True) if payload.selection else None
    halt_if = payload.halt_if.model_dump(exclude_none=True) if payload.halt_if else None
    campaign = firmware_campaigns.create_campaign(
        actor_from_request(request),
        name=payload.name,
        target_version=payload.target_version,
        package_url=payload.package_url,
        device_ids=payload.device_ids,
        selection=selection,
        stages=payload.stages,
        health_window_minutes=payload.health_window_minutes,
        halt_if=halt_if,
    )
    return _detail(request, campaign.campaign_id)


@router.get(
    BASE,
    auth=operator_read,
    response={200: Envelope[Page[CampaignSummary]], **QUERY_ERRORS},
    summary="Your firmware campaigns",
    openapi_extra=extension(),
)
def campaigns(request: HttpRequest, filters: Query[CampaignFilters]):
    """Newest first; `status` filters. The chargers are in the campaign itself."""
    queryset = firmware_queries.campaigns(request.auth.operator_id, **filters.filter_values())
    page = paginate(queryset, filters.page, filters.size)
    return page_body(page, [CampaignSummary.of(campaign) for campaign in page.items])


@router.get(
    BASE + "/{campaign_id}",
    auth=operator_read,
    response={200: Envelope[CampaignOut], 404: ErrorEnvelope, **QUERY_ERRORS},
    summary="One firmware campaign: its stages and every charger's state",
    openapi_extra=extension(),
)
def campaign(request: HttpRequest, campaign_id: str):
    return _detail(request, campaign_id)


@router.post(
    BASE + "/{campaign_id}/pause",
    auth=operator_write,
    response={200: Envelope[CampaignOut], **WRITE_ERRORS},
    summary="Pause a running campaign",
    openapi_extra=extension(),
)
def pause(request: HttpRequest, campaign_id: str):
    """No further upgrades are sent; chargers already upgrading finish. Only a running
    campaign; anything else is 409/4001 with its `current` status."""
    firmware_campaigns.pause_campaign(actor_from_request(request), campaign_id)
    return _detail(request, campaign_id)


@router.post(
    BASE + "/{campaign_id}/resume",
    auth=operator_write,
    response={200: Envelope[CampaignOut], **WRITE_ERRORS},
    summary="Resume a paused or halted campaign",
    openapi_extra=extension(),
)
def resume(request: HttpRequest, campaign_id: str):
    """A halt is cleared and its rules count again from now (decision:
    campaign-resume-after-halt). A running, cancelled or completed campaign is 409/4001."""
    firmware_campaigns.resume_campaign(actor_from_request(request), campaign_id)
    return _detail(request, campaign_id)


@router.post(
    BASE + "/{campaign_id}/cancel",
    auth=operator_write,
    response={200: Envelope[CampaignOut], **WRITE_ERRORS},
    summary="Cancel a campaign",
    openapi_extra=extension(),
)
def cancel(request: HttpRequest, campaign_id: str):
    """Chargers not yet reached are skipped and their undelivered upgrades withdrawn; a
    charger already upgrading finishes. A cancelled or completed campaign is 409/4001."""
    firmware_campaigns.cancel_campaign(actor_from_request(request), campaign_id)
    return _detail(request, campaign_id)
