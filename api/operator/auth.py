from django.http import HttpRequest
from ninja import Router

from api.envelope import token_body
from api.schemas.auth import AccessTokenResponse, OperatorTokenRequest
from api.schemas.common import ErrorEnvelope
from fleet.actors import request_ip
from fleet.ratelimit import credential_attempt
from fleet.services.auth import issue_operator_token

router = Router(tags=["Operator — Authentication"])


@router.post(
    "/oauth/token",
    response={200: AccessTokenResponse, 401: ErrorEnvelope},
    summary="Obtain an operator access token",
)
def operator_token(request: HttpRequest, payload: OperatorTokenRequest):
    """Client-credentials grant. The 200 body carries the token fields at the top level
    (as the spec shows) and the envelope around the same token. Wrong secrets are
    limited per client id and source address, issued tokens per client id."""
    with credential_attempt("operator_token", payload.client_id, request_ip(request) or ""):
        issued = issue_operator_token(payload.client_id, payload.client_secret)
    return token_body(issued)
