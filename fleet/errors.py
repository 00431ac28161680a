"""Domain errors. Each carries the platform error code of the v1.3 code table; the API
layer turns them into enveloped responses with the matching HTTP status."""

from typing import Any


class TellusError(Exception):
    code = 9001
    default_message = "Internal server error"

    def __init__(self, message: str | None = None, details: dict[str, Any] | None = None):
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)


class InvalidParameter(TellusError):
    code = 1001
    default_message = "Invalid request parameter"

    def __init__(self, field: str, value: Any = None, message: str | None = None, **extra: Any):
        details = {"field": field, "value": value, **extra}
        super().__init__(message or f"Parameter '{field}' is invalid", details)


class MissingParameter(TellusError):
    code = 1002
    default_message = "Missing required parameter"

    def __init__(self, field: str, message: str | None = None):
        super().__init__(message or f"Parameter '{field}' is required", {"field": field})


class NotAuthenticated(TellusError):
    code = 2001
    default_message = "Not authenticated or token invalid"


class TokenExpired(TellusError):
    code = 2002
    default_message = "Token expired"


class PermissionDenied(TellusError):
    code = 2003
    default_message = "Permission denied"


class NotFound(TellusError):
    code = 3001
    default_message = "Resource not found"


class Conflict(TellusError):
    code = 4001
    default_message = "Resource conflict"


class TooManyRequests(TellusError):
    code = 5001
    default_message = "Too many requests"

    def __init__(self, retry_after_seconds: int):
        super().__init__(None, {"retry_after_seconds": retry_after_seconds})
