"""Firmware campaigns (an extension): the request a partner sends and the answers."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictInt, model_validator

from api.schemas.common import EmptyAsNull
from fleet.contracts.common import Number, RequestSchema, Text
from fleet.models import FirmwareCampaign

CampaignStatus = Literal["running", "paused", "halted", "cancelled", "completed"]
ChargerState = Literal[
    "queued", "sent", "downloading", "upgrading", "succeeded", "failed", "skipped"
]
MAX_DEVICES = 10_000
MAX_SITES = 1_000
MAX_VERSIONS = 100
MAX_FAULT_CODES = 20


class Selection(RequestSchema):
    model: Text(100) | None = Field(None, description="Only chargers of this model.")
    firmware_versions: list[Text(64)] | None = Field(
        None, max_length=MAX_VERSIONS, description="Only chargers running one of these."
    )
    site_ids: list[Text(64)] | None = Field(
        None, max_length=MAX_SITES, description="Only chargers on these sites of yours."
    )


class HaltRules(RequestSchema):
    failed_percent: Number | None = Field(
        None,
        ge=0,
        le=100,
        description="Halt when more than this share of the finished chargers failed.",
    )
    fault_codes: list[Text(32)] | None = Field(
        None,
        max_length=MAX_FAULT_CODES,
        description="Halt when upgraded chargers raise one of these faults more often than "
        "`fault_rate_factor` times their rate in the 7 days before the campaign.",
    )
    fault_rate_factor: Number | None = Field(None, gt=0, le=1000, description="Default 2.")


class CampaignCreate(RequestSchema):
    name: Text(120)
    target_version: Text(64)
    package_url: Text(2048) = Field(description="http or https address of the package.")
    device_ids: list[Text(64)] | None = Field(
        None, min_length=1, max_length=MAX_DEVICES, description="Exactly one of this and selection."
    )
    selection: Selection | None = Field(
        None, description="Your chargers matching every given criterion."
    )
    stages: list[Annotated[StrictInt, Field(ge=1, le=100)]] | None = Field(
        None,
        min_length=1,
        max_length=20,
        description="Cumulative percentages of the chargers, strictly increasing, the last "
        "100. Default [100].",
    )
    health_window_minutes: StrictInt = Field(30, ge=0, le=7 * 24 * 60)
    halt_if: HaltRules | None = None

    @model_validator(mode="after")
    def one_target(self) -> "CampaignCreate":
        if (self.device_ids is None) == (self.selection is None):
            raise ValueError("give exactly one of device_ids and selection")
        return self


class HaltRulesOut(BaseModel):
    failed_percent: float | None
    fault_codes: list[str]
    fault_rate_factor: float


class StageOut(BaseModel):
    index: int = Field(description="0 for the first stage.")
    percent: int = Field(description="Cumulative share of the chargers reached by its end.")
    chargers: int
    counts: dict[str, int] = Field(description="The stage's chargers per state.")
    started_at: datetime | None
    finished_at: datetime | None = Field(description="When its last charger finished.")


class FirmwareReport(BaseModel):
    status: str
    progress: int | None
    message: str
    at: datetime


class CampaignChargerOut(BaseModel):
    device_id: str
    serial: str
    site_name: str | None
    stage: int
    state: ChargerState
    from_version: str
    attempts: int = Field(description="How many times the upgrade was sent.")
    command_id: str | None
    reason: str = Field(description="Why it was skipped or failed, in words.")
    last_report: FirmwareReport | None = Field(description="The charger's last firmware report.")
    finished_at: datetime | None
    updated_at: datetime


class CampaignSummary(BaseModel):
    campaign_id: str
    name: str
    target_version: str
    package_url: str
    selection: dict[str, Any]
    stages: list[int]
    health_window_minutes: int
    halt_if: HaltRulesOut
    status: CampaignStatus
    current_stage: int
    stage_started_at: datetime
    halt_reason: EmptyAsNull
    halted_at: datetime | None
    finished_at: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, campaign: FirmwareCampaign) -> "CampaignSummary":
        rules = {"failed_percent": None, "fault_codes": [], "fault_rate_factor": 2.0}
        return cls.model_validate(
            {
                **{name: getattr(campaign, name) for name in cls.model_fields if name != "halt_if"},
                "halt_if": {**rules, **(campaign.halt_if or {})},
            }
        )


class CampaignOut(CampaignSummary):
    stage_progress: list[StageOut]
    counts: dict[str, int] = Field(description="Every charger of the campaign per state.")
    chargers: list[CampaignChargerOut]

    @classmethod
    def of_detail(cls, detail: dict[str, Any]) -> "CampaignOut":
        summary = CampaignSummary.of(detail["campaign"]).model_dump()
        return cls.model_validate(
            {
                **summary,
                "stage_progress": detail["stages"],
                "counts": detail["counts"],
                "chargers": detail["devices"],
            }
        )
