"""What the control endpoints answer; the requests they accept are the control contracts
(fleet/contracts/control.py)."""

from typing import Literal

from pydantic import BaseModel, Field


class CommandQueued(BaseModel):
    command_id: str
    status: Literal["queued"] = "queued"


class FlexibilityQueued(BaseModel):
    control_id: str
    status: Literal["executing"] = "executing"
    commands: int = Field(description="Extension: chargers the control reaches.")
