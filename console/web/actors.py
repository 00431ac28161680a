"""The actor of a console or admin request: the signed-in person, for the operator they
work for (none for platform staff), from the request's address."""

from django.http import HttpRequest

from console.web.models import operator_id_for
from fleet.actors import Actor, request_ip


def actor_from_console_request(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user, operator_id_for(request.user), request_ip(request))
