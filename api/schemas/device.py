import re

from pydantic import BaseModel, field_validator

from fleet.contracts.common import RequestSchema, Text

_MAC_RE = re.compile(r"^[0-9A-Fa-f]{2}([:-]?)[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}$")


class DeviceRegisterRequest(RequestSchema):
    sn: Text(64)
    model: Text(100)
    manufacturer: Text(100)
    firmware_version: Text(64)
    mac: Text(17, min_length=0) | None = None

    @field_validator("mac")
    @classmethod
    def normalise_mac(cls, value: str | None) -> str | None:
        """Accept aa:bb:.., AA-BB-.. or 12 bare hex digits; store AA:BB:CC:DD:EE:FF."""
        if not value:
            return None
        if not _MAC_RE.match(value):
            raise ValueError("must be a MAC address such as 00:1A:2B:3C:4D:5E")
        digits = re.sub(r"[:-]", "", value).upper()
        return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


class DeviceRegisterResponse(BaseModel):
    device_id: str
    device_secret: str
    expires_in: int
