"""The v1 API as one Ninja application: operator and charger surfaces, one OpenAPI doc."""

from ninja import NinjaAPI
from ninja.errors import ValidationError, ValidationErrorContext

from api import errors
from api.device.provisioning import router as device_provisioning
from api.device.reporting import router as device_reporting
from api.legacy import router as legacy_router
from api.operator.alerts import router as operator_alerts
from api.operator.audit import router as operator_audit
from api.operator.auth import router as operator_auth
from api.operator.commands import router as operator_commands
from api.operator.control import router as operator_control
from api.operator.diagnostics import router as operator_diagnostics
from api.operator.firmware import router as operator_firmware
from api.operator.fleet import router as operator_fleet
from api.operator.records import router as operator_records
from api.operator.runbook_runs import router as operator_runbook_runs
from api.parser import TellusParser


class TellusNinjaAPI(NinjaAPI):
    def validation_error_from_error_contexts(
        self, error_contexts: list[ValidationErrorContext]
    ) -> ValidationError:
        """Like Ninja's, but keeps each error's input: 1001 answers carry the bad value."""
        errors = []
        for context in error_contexts:
            model = context.model
            for error in context.pydantic_validation_error.errors(
                include_url=False, include_context=False
            ):
                loc = model.__ninja_flatten_map_reverse__.get(error["loc"], error["loc"])
                errors.append({**error, "loc": (model.__ninja_param_source__, *loc)})
        return ValidationError(errors)


api = TellusNinjaAPI(
    title="Tellus Open Platform API",
    version="1.3.0",
    description=(
        "Open implementation of the Tellus Open Platform API v1.3. Operations tagged "
        "*Extensions* (`x-tellus-extension: true`) go beyond the published specification.\n\n"
        "The telemetry stream is a WebSocket and so not listed below: "
        "`wss://<host>/v1/operator/stream?devices=dvc_1,dvc_2`, authenticated with "
        "`Authorization: Bearer <token>` on the handshake or `?token=`; it sends "
        "TelemetryFrame objects and closes with 4400/4401/4403/4404/4409/4429 (or 1013 while "
        "live updates are unavailable) and a reason."
    ),
    urls_namespace="v1",
    parser=TellusParser(),
    docs_url="/docs",
    openapi_url="/openapi.json",
)
errors.install(api)

api.add_router("/operator", operator_auth)
api.add_router("/operator", operator_fleet)
api.add_router("/operator", operator_records)
api.add_router("/operator", operator_commands)
api.add_router("/operator", operator_control)
api.add_router("/operator", operator_diagnostics)
api.add_router("/operator", operator_alerts)
api.add_router("/operator", operator_runbook_runs)
api.add_router("/operator", operator_audit)
api.add_router("/operator", operator_firmware)
api.add_router("/device", device_provisioning)
api.add_router("/device", device_reporting)
api.add_router("", legacy_router)
