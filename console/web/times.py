"""One time rule for the whole console: every time is shown in the reader's time zone (UTC
unless they chose another on their account page), with the zone beside it.

Templates show a moment with the `at` filter (console/web/templatetags/console_time.py),
which renders `<time datetime="…Z">2026-12-07 09:12:03 CET</time>`: the machine-readable
value in UTC, the text in the zone in force. `TimeZoneMiddleware` puts a request in its
reader's zone; a live fragment is rendered inside `timezone.override(access.time_zone)`.
CSV and JSON downloads keep ISO 8601 in UTC.
"""

from datetime import UTC, date, datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.db import DatabaseError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html

DEFAULT_ZONE = "UTC"
# The session key holding the signed-in user's zone (set at sign-in and when they choose),
# so that a page costs no query for it.
TIME_ZONE_KEY = "console_time_zone"
ZONE_NAME_MAX = 64

# What each style of the `at` filter shows of a moment (the zone is always added).
STYLES = {
    "seconds": "%Y-%m-%d %H:%M:%S",
    "minute": "%Y-%m-%d %H:%M",
    "time": "%H:%M:%S",
    "hour": "%H:%M",
    "date": "%Y-%m-%d",
}


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name this machine knows, UTC first, the rest sorted."""
    names = available_timezones() - {"UTC", "localtime", "Factory"}
    return (DEFAULT_ZONE, *sorted(n for n in names if "/" in n and not n.startswith("Etc/")))


def zone_named(name: object) -> ZoneInfo | None:
    """The zone of an IANA name offered to people (see `zone_names`); None for anything
    else, whatever it is (a path, a NUL, a 10 kB string)."""
    if not isinstance(name, str) or not name or len(name) > ZONE_NAME_MAX:
        return None
    if name not in zone_names():
        return None
    return ZoneInfo(name)


def zone_of(user) -> str:
    """The time zone a console user chose, or UTC (signed out, never chosen, or the
    database out of reach: a page in UTC is better than no page)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return DEFAULT_ZONE
    try:
        chosen = user.console_profile.time_zone
    except (AttributeError, DatabaseError):  # no profile yet (RelatedObjectDoesNotExist)
        return DEFAULT_ZONE
    return chosen if zone_named(chosen) is not None else DEFAULT_ZONE


def session_zone(user, session) -> str:
    """The zone of a signed-in user's session: the one kept at sign-in, else looked up
    (and kept from then on)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return DEFAULT_ZONE
    kept = session.get(TIME_ZONE_KEY) if session is not None else None
    if zone_named(kept) is not None:
        return kept
    name = zone_of(user)
    if session is not None:
        session[TIME_ZONE_KEY] = name
    return name


def zone_abbreviation(moment: datetime) -> str:
    """CET, CEST, UTC, or an offset such as +04 where the zone has no letters."""
    return moment.tzname() or moment.strftime("%z")


def as_moment(value: object) -> datetime | date | None:
    """A datetime, a date, or an ISO 8601 string (what JSON columns hold) as a moment;
    naive datetimes are UTC, as the platform stores them. None for anything else."""
    if isinstance(value, str):
        try:
            value = parse_datetime(value.strip())
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return value
    return None


def in_zone(moment: datetime, zone: tzinfo | None = None) -> datetime:
    """The moment in the zone given or in force; in UTC where the zone cannot hold it
    (the first or last hours of year 1 or 9999)."""
    try:
        return moment.astimezone(zone or timezone.get_current_timezone())
    except (OverflowError, ValueError):
        return moment.astimezone(UTC)


def moment_text(value: object, style: str = "seconds") -> str:
    """A moment as a person reads it, zone included ("2026-12-07 09:12:03 CET"); "—" for
    nothing, and anything that is not a moment as it is."""
    if value is None or value == "":
        return "—"
    moment = as_moment(value)
    if moment is None:
        return str(value)
    if not isinstance(moment, datetime):
        return moment.isoformat()
    shown = in_zone(moment)
    return f"{shown.strftime(STYLES.get(style, STYLES['seconds']))} {zone_abbreviation(shown)}"


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def time_element(value: object, style: str = "seconds") -> str:
    """`<time datetime="…Z" title="… UTC">… CET</time>`; the title gives UTC when the
    text is in another zone."""
    moment = as_moment(value)
    if moment is None:
        return format_html("{}", moment_text(value, style))
    if not isinstance(moment, datetime):
        return format_html('<time datetime="{}">{}</time>', moment.isoformat(), moment_text(moment))
    text = moment_text(moment, style)
    utc = moment.astimezone(UTC)
    stamp = utc_text(utc)
    if text.endswith(" UTC") and style == "seconds":
        return format_html('<time datetime="{}">{}</time>', stamp, text)
    title = utc.strftime(STYLES["seconds"]) + " UTC"
    return format_html('<time datetime="{}" title="{}">{}</time>', stamp, title, text)


def zone_label(name: str | None = None) -> str:
    """The zone in force as the top bar says it: "UTC", or "CET (Europe/Paris)"."""
    name = name or timezone.get_current_timezone_name()
    if name == DEFAULT_ZONE:
        return DEFAULT_ZONE
    zone = zone_named(name)
    if zone is None:
        return name
    return f"{zone_abbreviation(timezone.now().astimezone(zone))} ({name})"


def reader_zone(request) -> str:
    """The zone of whoever sent the request; UTC when that cannot be read (the database
    out of reach: a page in UTC is better than no page)."""
    try:
        return session_zone(getattr(request, "user", None), getattr(request, "session", None))
    except DatabaseError:
        return DEFAULT_ZONE


class TimeZoneMiddleware:
    """Every console request in its reader's zone, kept on the request as `time_zone`.
    The API (/v1) has no reader's zone and is passed through untouched, sync or async
    alike, so the charger hot path takes no thread hop here."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        if request.path.startswith("/v1/"):
            return self.get_response(request)
        request.time_zone = reader_zone(request)
        with timezone.override(ZoneInfo(request.time_zone)):
            return self.get_response(request)

    async def _acall(self, request):
        if request.path.startswith("/v1/"):
            return await self.get_response(request)
        request.time_zone = await sync_to_async(reader_zone)(request)
        with timezone.override(ZoneInfo(request.time_zone)):
            return await self.get_response(request)
