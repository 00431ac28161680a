"""Ending all of a user's sessions, whatever the session store.

Switching a user off, or staff setting their password, ends every session they have, so
switching them on again asks them to sign in. Where the sessions can be found (the
database stores, SESSION_ENGINE `db` or `cached_db`, the default) they are deleted. On
every store the user's session generation is also bumped: each session keeps the
generation it began under, and on a store whose sessions cannot be listed (`cache`,
`signed_cookies`) a session from an older generation is refused on its next request or
live-page recheck.
"""

from importlib import import_module

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from console.web.models import SessionGeneration

GENERATION_KEY = "tellus_session_generation"
LISTABLE_ENGINES = {
    "django.contrib.sessions.backends.db",
    "django.contrib.sessions.backends.cached_db",
}


def _listable() -> bool:
    return settings.SESSION_ENGINE in LISTABLE_ENGINES


def generation(user_id: int) -> int:
    found = (
        SessionGeneration.objects.filter(user_id=user_id).values_list("number", flat=True).first()
    )
    return found or 0


def end_sessions(user, keep: SessionBase | None = None) -> int:
    """End every session of `user` except `keep` (the session of staff changing their own
    password), which moves to the new generation. Returns how many were deleted."""
    SessionGeneration.objects.get_or_create(user_id=user.pk)
    SessionGeneration.objects.filter(user_id=user.pk).update(number=F("number") + 1)
    number = generation(user.pk)
    if keep is not None:
        keep[GENERATION_KEY] = number
    if not _listable():
        return 0
    from django.contrib.sessions.models import Session

    store = import_module(settings.SESSION_ENGINE).SessionStore
    kept = keep.session_key if keep is not None else None
    ended = 0
    live = Session.objects.filter(expire_date__gt=timezone.now()).values_list(
        "session_key", "session_data"
    )
    for key, data in live.iterator(chunk_size=2000):
        if key == kept or store().decode(data).get("_auth_user_id") != str(user.pk):
            continue
        store(session_key=key).delete()
        ended += 1
    return ended


def is_current(user, session) -> bool:
    """Whether a signed-in user's session belongs to their current generation (always
    so on a listable store, whose ended sessions are gone)."""
    if _listable() or user is None or not getattr(user, "is_authenticated", False):
        return True
    return (session.get(GENERATION_KEY) or 0) == generation(user.pk)


def stamp(sender, request, user, **kwargs) -> None:
    """At sign-in: the session begins under the user's current generation."""
    if request is not None and hasattr(request, "session"):
        request.session[GENERATION_KEY] = generation(user.pk)


class SessionGenerationMiddleware:
    """After AuthenticationMiddleware: a session of an ended generation is flushed and the
    request goes on signed out. Costs nothing on a listable store."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not _listable() and not is_current(request.user, request.session):
            request.session.flush()
            request.user = AnonymousUser()
        return self.get_response(request)
