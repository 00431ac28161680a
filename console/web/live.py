"""Live updates for console pages over a WebSocket (`/console/live`).

A page names what it shows (`?page=device&id=…`); the consumer checks the signed-in
user's access exactly as the page did, joins the channel-layer groups behind it (the
device's `device.<id>`, the operator's `operator.<id>`) and, when a message arrives,
re-renders the affected fragments of the page's own template and sends them as HTML.
Every top-level element sent carries the id of the element it replaces
(static/console/live.js swaps them). A page that reconnects (`resume=1`) is sent every
fragment at once, so what it missed while away is drawn again.

Messages are coalesced: a fragment is rendered at most once per its interval however many
samples arrive, so a watched charger costs the server a few renders a second at most.

The socket never goes quiet while it works: a keep-alive frame (KEEPALIVE, which the page
recognises and does not swap) every KEEPALIVE_SECONDS, so a page hearing nothing for
longer knows its updates are stale. Access is checked again every RECHECK_SECONDS on a
timer of its own, messages or not.

Close codes: 4401 signed out or no longer allowed (session ended, user deactivated,
removed from the operator), 4404 nothing to show (unknown page, another operator's
subject, a device that left the fleet), 1011 a server-side task of the socket failed
(logged with its traceback; the page reconnects).
"""

import asyncio
import logging
import re
from collections.abc import Awaitable
from dataclasses import replace
from importlib import import_module
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.utils import timezone

from console.web import sessions
from console.web.access import ConsoleAccess, access_of
from console.web.live_pages import PAGES
from fleet.errors import NotFound
from fleet.live.publish import device_group

logger = logging.getLogger(__name__)

SIGNED_OUT = 4401
NOT_FOUND = 4404
FAILED = 1011  # the server's own failure: the page reconnects
# Ids as the platform issues them; anything else names nothing (and never reaches SQL).
SUBJECT_ID = re.compile(r"[A-Za-z0-9_.:-]{0,100}")
# How often access is checked again: a signed-out, deactivated or removed user stops
# hearing within this long (one small query per open page per interval).
RECHECK_SECONDS = 30.0
# The page calls its updates stale after 25 s without a frame (static/console/live.js):
# two keep-alives fit in that, so one delayed frame does not make a page reconnect.
KEEPALIVE_SECONDS = 10.0
KEEPALIVE = "<!--keep-alive-->"


class ConsoleLiveConsumer(AsyncWebsocketConsumer):
    closed = False
    tasks: tuple[asyncio.Task, ...] = ()

    async def connect(self) -> None:
        await self.accept()
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.page = PAGES.get(_first(query, "page"))
        self.access = await database_sync_to_async(_access)(self.scope)
        if self.access is None:
            await self.close(code=SIGNED_OUT)
            return
        if self.page is None:
            await self.close(code=NOT_FOUND)
            return
        params = {"id": _first(query, "id"), "filters": _first(query, "filters")}
        if not SUBJECT_ID.fullmatch(params["id"]) or not _plain(params["filters"]):
            await self.close(code=NOT_FOUND)
            return
        try:
            self.subject = await database_sync_to_async(self.page.subject)(self.access, params)
            self.joined = await database_sync_to_async(self.page.groups)(self.access, self.subject)
        except NotFound:
            await self.close(code=NOT_FOUND)
            return
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        # Back after a break: everything may have changed meanwhile.
        self.dirty: set[str] = set(self.page.fragments) if _first(query, "resume") else set()
        self.keys: dict[str, set[str]] = {}  # fragment -> what changed (e.g. alert ids)
        self.last_sent: dict[str, float] = {}
        self.wake = asyncio.Event()
        if self.dirty:
            self.wake.set()
        self.tasks = (
            self._supervised("update loop", self._flush_loop()),
            self._supervised("access recheck", self._recheck_loop()),
            self._supervised("keep-alive", self._keepalive_loop()),
            *(
                self._supervised(f"refresh of {name}", self._every(name, seconds))
                for name, seconds in self.page.every.items()
            ),
        )

    async def disconnect(self, code: int) -> None:
        self.closed = True
        for task in self.tasks:
            task.cancel()
        for group in getattr(self, "joined", ()):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        """Pages send nothing; anything received is ignored unread."""

    async def end(self, code: int) -> None:
        """Close once, and stop every task of the socket so nothing is sent after."""
        if self.closed:
            return
        self.closed = True
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()
        await self.close(code=code)

    def _supervised(self, what: str, work: Awaitable[None]) -> asyncio.Task:
        """A task of the socket; its failure is logged and closes the socket with FAILED,
        so the page says so and reconnects instead of waiting on a dead loop."""

        async def run() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception:
                if self.closed:  # the page went away while a frame was on its way
                    return
                logger.exception(
                    "live %s failed for %s; closing the socket so the page reconnects",
                    what,
                    self.scope.get("query_string", b"").decode("latin-1")[:200],
                )
                await self.end(FAILED)

        return asyncio.create_task(run())

    async def dispatch(self, message: dict) -> None:
        kind = message.get("type", "")
        if kind.startswith("websocket."):
            await super().dispatch(message)
            return
        if self.closed:
            return
        if kind == "device.reassigned" and message.get("operator_id") != self.access.operator_id:
            # It left this operator's fleet: a page about it ends; a page listing it stops
            # hearing it and is drawn again without it.
            if message.get("device_id") == self.subject:
                await self.end(NOT_FOUND)
                return
            group = device_group(message.get("device_id", ""))
            if group in self.joined:
                self.joined.remove(group)
                await self.channel_layer.group_discard(group, self.channel_name)
            kind = "device.status"
        touched = self.page.triggers.get(kind, ())
        if touched:
            self.dirty.update(touched)
            key = self.page.keys.get(kind)
            if key and isinstance(message.get(key), str):
                for name in touched:
                    self.keys.setdefault(name, set()).add(message[key])
            self.wake.set()

    async def _every(self, name: str, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            self.dirty.add(name)
            self.wake.set()

    async def _keepalive_loop(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_SECONDS)
            await self.send(text_data=KEEPALIVE)

    async def _recheck_loop(self) -> None:
        while True:
            await asyncio.sleep(RECHECK_SECONDS)
            current = await database_sync_to_async(_current_access)(self.scope, self.access)
            if current is None:
                await self.end(SIGNED_OUT)
                return
            self.access = current  # a changed role draws the next fragments as it allows

    async def _flush_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self.wake.wait()
            self.wake.clear()
            now = loop.time()
            due = {
                name
                for name in self.dirty
                if now - self.last_sent.get(name, 0.0) >= self.page.fragments[name].interval
            }
            if due:
                self.dirty -= due
                try:
                    html = await database_sync_to_async(self._render)(due)
                except NotFound:  # the subject went away between the message and the render
                    await self.end(NOT_FOUND)
                    return
                for name in due:
                    self.last_sent[name] = now
                if html.strip() and not self.closed:
                    await self.send(text_data=html)
            if self.dirty:  # some were held back by their interval: come back when due
                wait = min(
                    self.page.fragments[name].interval - (now - self.last_sent.get(name, 0.0))
                    for name in self.dirty
                )
                loop.call_later(max(wait, 0.05), self.wake.set)

    def _render(self, names: set[str]) -> str:
        with timezone.override(self.access.time_zone):  # the reader's zone, as on the page
            return "\n".join(
                self.page.fragments[name].render(
                    self.access, self.subject, self.keys.pop(name, set())
                )
                for name in sorted(names)
            )


def _first(query: dict[str, list[str]], key: str) -> str:
    values = query.get(key) or [""]
    return values[0]


def _plain(text: str) -> bool:
    """A page's filter query: short, printable (no NUL or control characters)."""
    return len(text) <= 1000 and text.isprintable()


def _access(scope: dict) -> ConsoleAccess | None:
    session: SessionBase | None = scope.get("session")
    client = scope.get("client") or (None,)
    user = scope.get("user")
    if session is not None and not sessions.is_current(user, session):
        return None
    access = access_of(user, session if session is not None else {}, client[0])
    if access is None:
        return None
    return replace(access, csrf_token=_csrf_token(scope))


CSRF_SECRET = re.compile(r"[a-zA-Z0-9]{32}")


def _csrf_token(scope: dict) -> str:
    """A fresh mask of the browser's CSRF cookie, as the page's own forms carry; nothing
    for a missing or malformed cookie (its forms are then refused, as a page's would be)."""
    secret = (scope.get("cookies") or {}).get(settings.CSRF_COOKIE_NAME, "")
    if not CSRF_SECRET.fullmatch(secret):
        return ""
    request = HttpRequest()
    request.META["CSRF_COOKIE"] = secret
    return get_token(request)


def _current_access(scope: dict, access: ConsoleAccess) -> ConsoleAccess | None:
    """The socket's access read afresh, as a page request would read it: None once the
    session has ended (signed out, idle past SESSION_COOKIE_AGE, password changed), the
    user is deactivated, or they no longer reach the operator the page shows."""
    session: SessionBase | None = scope.get("session")
    key = session.session_key if session is not None else None
    if not key:
        return None
    # Built from the engine, not from the scope's session (a LazyObject in Channels).
    request = HttpRequest()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(key)
    user = get_user(request)
    if not user.is_authenticated or user.pk != access.user.pk:
        return None
    if not sessions.is_current(user, request.session):  # ended on an unlistable store
        return None
    current = access_of(user, request.session, access.ip)
    if current is None or current.operator_id != access.operator_id:
        return None
    return replace(current, csrf_token=access.csrf_token)
