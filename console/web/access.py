"""Who is looking at the console, for which operator, in which role.

Every page and fragment is built from a `ConsoleAccess`: the operator whose data it shows
(a member's own; for platform staff the one they chose) and what the role allows. Data of
any other operator is not found (404), never shown; an action the role does not allow is
refused (403) and changes nothing.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from console.web.models import OperatorMember
from console.web.roles import Role, allows
from console.web.times import DEFAULT_ZONE, session_zone
from fleet.actors import Actor, request_ip
from fleet.errors import NotFound
from fleet.models import Operator

# The session key under which platform staff keep the operator they are looking at.
STAFF_OPERATOR_KEY = "console_operator_id"


@dataclass(frozen=True)
class ConsoleAccess:
    user: object
    operator: Operator | None  # None: staff on a platform without operators
    role: Role
    is_staff: bool
    ip: str | None = None
    # A pushed fragment has no request: the live socket carries the page's CSRF token here
    # so the forms it renders post like the page's own.
    csrf_token: str = ""
    # The IANA zone the user reads times in (console/web/times.py): a pushed fragment
    # is rendered in it, as the page was.
    time_zone: str = DEFAULT_ZONE

    @property
    def operator_id(self) -> str | None:
        return self.operator.operator_id if self.operator else None

    def can(self, needed: str) -> bool:
        return self.operator is not None and allows(self.role, needed)

    @property
    def actor(self) -> Actor:
        """The person, acting for the operator shown (audit rows carry both)."""
        return Actor.for_user(self.user, self.operator_id, self.ip)


def access_for(request: HttpRequest) -> ConsoleAccess | None:
    """The request's access, or None for someone who may not use the console (signed
    out, inactive, or neither a member of an operator nor platform staff)."""
    return access_of(request.user, request.session, request_ip(request))


def access_of(user, session, ip: str | None) -> ConsoleAccess | None:
    """The same, from a user and session (a WebSocket's scope has no request)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    member = OperatorMember.objects.filter(user=user).select_related("operator").first()
    zone = session_zone(user, session)
    if member is not None:
        return ConsoleAccess(user, member.operator, Role(member.role), False, ip, time_zone=zone)
    if not user.is_staff:
        return None
    chosen = session.get(STAFF_OPERATOR_KEY)
    operator = Operator.objects.filter(pk=chosen).first() if chosen else None
    if operator is None:
        operator = Operator.objects.order_by("name").first()
    return ConsoleAccess(user, operator, Role.ADMIN, True, ip, time_zone=zone)


def plain_id(value: str) -> bool:
    """An id from a URL as the platform issues them: printable and not absurdly long."""
    return len(value) <= 200 and value.isprintable()


def _refusal(access: ConsoleAccess | None, needs: str) -> str:
    """Why a page is refused, for the log (the page itself says it in words)."""
    if access is None:
        return "not a console user (switched off, or neither an operator's member nor staff)"
    return f"needs the {needs} role (has {access.role})"


def console_view(needs: str = Role.VIEWER) -> Callable:
    """A console page or fragment open to the roles that include `needs`."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            access = access_for(request)
            if access is not None and access.is_staff and access.operator is None:
                return render(request, "console/fleet/no_operator.html", status=200)
            if access is None or not access.can(needs):
                if access is not None:  # the refusal page says which role they have
                    request.console = access
                raise PermissionDenied(_refusal(access, needs))
            request.console = access
            if not all(plain_id(value) for value in kwargs.values() if isinstance(value, str)):
                raise Http404("No such page")  # a NUL or control character names nothing
            try:
                return view(request, access, *args, **kwargs)
            except NotFound as missing:  # another operator's, or nobody's: the same 404
                raise Http404(str(missing)) from None

        return wrapped

    return decorate
