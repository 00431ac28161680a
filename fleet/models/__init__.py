from fleet.models.audit import AuditEntry
from fleet.models.commands import Command, CommandStatusChange
from fleet.models.control import Control, Schedule
from fleet.models.devices import ConnectivityChange, Connector, ConnectorState, Device
from fleet.models.firmware import FirmwareUpdate
from fleet.models.firmware_campaigns import CampaignDevice, FirmwareCampaign
from fleet.models.legacy import LegacyOrder, LegacyPush, LegacyPushAttempt
from fleet.models.operators import ApiClient, Operator, UsedSignature
from fleet.models.ownership import DeviceOwnershipChange
from fleet.models.records import ChargingRecord
from fleet.models.sites import Site
from fleet.models.telemetry import DeviceEvent, SitePowerPeak, TelemetrySample

__all__ = [
    "ApiClient",
    "AuditEntry",
    "CampaignDevice",
    "ChargingRecord",
    "Command",
    "CommandStatusChange",
    "ConnectivityChange",
    "Connector",
    "ConnectorState",
    "Control",
    "Device",
    "DeviceEvent",
    "DeviceOwnershipChange",
    "FirmwareCampaign",
    "FirmwareUpdate",
    "LegacyOrder",
    "LegacyPush",
    "LegacyPushAttempt",
    "Operator",
    "Schedule",
    "Site",
    "SitePowerPeak",
    "TelemetrySample",
    "UsedSignature",
]
