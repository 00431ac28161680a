"""A crawl of the console as one person: sign in through the real form, then follow every
same-origin link (and every `hx-get` a page would load) breadth first, bounded.

`console_pages(base_url, logins)` is the reusable part: for each role, the pages its
person reached, in the order found (other checks, such as the accessibility audit, walk
the same pages). `crawl()` keeps each answer's status, so a test can say which pages
failed and which page linked to them.
"""

import json
import logging
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urldefrag, urlencode, urljoin, urlsplit

import httpx

from tests.embedded import EmbeddedServer, embedded_environment, run_python
from tests.live_server import LiveServer, serving

# A line per request would bury a failure's report.
logging.getLogger("httpx").setLevel(logging.WARNING)

MAX_PAGES = 400
# Query-string variants of one path followed at most (filters, sorts, pages).
MAX_VARIANTS = 20
# Not pages to read: signing out ends the crawl, the admin site and the API's
# documentation are other applications, static files are not pages.
SKIPPED = re.compile(r"^/(logout/|login/|admin/|v1/|static/|healthz)")
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Visit:
    url: str
    status: int
    linked_from: str
    content_type: str = ""
    landed_on: str = ""  # where redirects ended, when they did
    fragment: bool = False  # asked for as HTMX does (an hx-get)

    @property
    def failed(self) -> bool:
        """5xx, or a 4xx (or a redirect to sign-in) from a link the page showed: a page
        must not link where it will refuse."""
        return self.status >= 400 or self.landed_on.startswith("/login/")

    def describe(self) -> str:
        landed = f" → {self.landed_on}" if self.landed_on else ""
        return f"{self.status} {self.url}{landed} (linked from {self.linked_from})"


@dataclass
class Crawl:
    visits: list[Visit] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [visit.url for visit in self.visits]

    @property
    def pages(self) -> list[str]:
        """The HTML pages (not fragments or downloads) that answered 200."""
        return [
            v.url
            for v in self.visits
            if v.status == 200 and v.content_type.startswith("text/html") and not v.fragment
        ]

    @property
    def failures(self) -> list[str]:
        return [visit.describe() for visit in self.visits if visit.failed]


class _Links(HTMLParser):
    """Links, `hx-get` targets and GET forms (filters) of a page. A form is submitted as
    shown, then once with each other choice of each of its menus."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.fragments: list[str] = []
        self.forms: list[str] = []
        self._form: dict | None = None
        self._select: list | None = None

    def handle_starttag(self, tag, attrs):
        values = {name: value or "" for name, value in attrs}
        if tag == "a" and values.get("href"):
            self.links.append(values["href"])
        if values.get("hx-get") and tag != "form":
            self.fragments.append(values["hx-get"])
        if tag == "form" and values.get("method", "get").lower() == "get":
            action = values.get("hx-get") or values.get("action") or ""
            self._form = {"action": action, "fields": {}, "menus": {}}
        elif self._form is not None and tag == "input" and values.get("name"):
            kind = values.get("type", "text")
            if kind not in {"submit", "button", "reset", "checkbox", "radio"} or (
                kind in {"checkbox", "radio"} and "checked" in values
            ):
                self._form["fields"][values["name"]] = values.get("value", "")
        elif self._form is not None and tag == "select" and values.get("name"):
            self._select = [values["name"], [], None]
        elif self._select is not None and tag == "option":
            self._select[1].append(values.get("value", ""))
            if "selected" in values or self._select[2] is None:
                self._select[2] = values.get("value", "")

    def handle_endtag(self, tag):
        if tag == "select" and self._select is not None and self._form is not None:
            name, options, chosen = self._select
            self._form["fields"][name] = chosen or ""
            self._form["menus"][name] = options
            self._select = None
        elif tag == "form" and self._form is not None:
            form, self._form = self._form, None
            shown = form["fields"]
            self.forms.append(f"{form['action']}?{urlencode(shown)}")
            for name, options in form["menus"].items():
                for option in options:
                    if option != shown[name]:
                        self.forms.append(f"{form['action']}?{urlencode({**shown, name: option})}")


def sign_in(base_url: str, username: str, password: str) -> httpx.Client:
    """A client signed in through the login form, as a browser does (CSRF cookie and
    token from the form)."""
    client = httpx.Client(base_url=base_url, timeout=60, follow_redirects=True)
    form = client.get("/login/")
    token = TOKEN.search(form.text)
    assert form.status_code == 200 and token, f"no sign-in form: {form.status_code}"
    answer = client.post(
        "/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token[1]},
        headers={"Referer": f"{base_url}/login/"},
    )
    assert answer.status_code == 200 and answer.url.path != "/login/", (
        f"{username} could not sign in: {answer.status_code} {answer.url}"
    )
    return client


def _key(url: str, fragment: bool) -> tuple[str, tuple, bool]:
    """Variants differing only in the page number are one page; empty filters are none."""
    parts = urlsplit(url)
    query = tuple(sorted((k, v) for k, v in parse_qsl(parts.query) if k != "page" and v))
    return parts.path, query, fragment


def crawl(base_url: str, username: str, password: str, limit: int = MAX_PAGES) -> Crawl:
    client = sign_in(base_url, username, password)
    origin = urlsplit(base_url).netloc
    result = Crawl()
    queue: list[tuple[str, str, bool]] = [("/", "sign-in", False)]
    seen: set[tuple[str, tuple, bool]] = set()
    variants: Counter[str] = Counter()
    try:
        while queue and len(result.visits) < limit:
            url, linked_from, fragment = queue.pop(0)
            key = _key(url, fragment)
            if key in seen or variants[key[0]] >= MAX_VARIANTS:
                continue
            seen.add(key)
            variants[key[0]] += 1
            headers = {"HX-Request": "true"} if fragment else {}
            answer = client.get(url, headers=headers)
            landed = answer.url.path if answer.url.path != urlsplit(url).path else ""
            content_type = answer.headers.get("content-type", "")
            result.visits.append(
                Visit(url, answer.status_code, linked_from, content_type, landed, fragment)
            )
            if answer.status_code != 200 or not content_type.startswith("text/html"):
                continue  # a CSV download, or a failure already noted
            parser = _Links()
            parser.feed(answer.text)
            found = [(href, False) for href in parser.links]
            found += [(href, True) for href in parser.fragments]
            # A filter form: as a page (its address is pushed to the history), then as
            # the fragment HTMX swaps in.
            found += [(href, is_fragment) for href in parser.forms for is_fragment in (False, True)]
            for href, is_fragment in found:
                target = urldefrag(urljoin(str(answer.url), href))[0]
                parts = urlsplit(target)
                if parts.scheme not in {"http", "https"} or parts.netloc != origin:
                    continue
                if SKIPPED.match(parts.path):
                    continue
                local = parts.path + (
                    f"?{urlencode(parse_qsl(parts.query))}" if parts.query else ""
                )
                queue.append((local, url, is_fragment))
    finally:
        client.close()
    return result


def console_pages(base_url: str, logins: dict[str, tuple[str, str]]) -> dict[str, list[str]]:
    """For each role (viewer … admin), the console pages its person reaches by links."""
    return {
        role: crawl(base_url, username, password).pages
        for role, (username, password) in logins.items()
    }


# --- The world crawled, on either database -------------------------------------------------

BACKENDS = ["sqlite", "postgresql"]


@dataclass
class World:
    backend: str  # "sqlite" (the embedded default) or "postgresql"
    server: LiveServer
    ids: dict  # what tests/crawl_world.py made, and the demo logins

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def logins(self) -> dict[str, tuple[str, str]]:
        return {role: tuple(login) for role, login in self.ids["logins"].items()}


@contextmanager
def world_on(backend: str, folder: Path) -> Iterator[World]:
    """A server with tests/crawl_world.py's world: on the embedded default (SQLite in
    `folder`, started as `make run` starts it) or on the PostgreSQL test database (the
    calling test needs transactional database access; the world is flushed afterwards).
    Every process it starts is stopped on the way out."""
    var_dir = folder / f"var-{backend}"
    var_dir.mkdir()
    if backend == "sqlite":
        env = embedded_environment(var_dir)
        run_python(["-m", "tests.crawl_world", "prepare"], env)
        server = EmbeddedServer(var_dir, folder / "embedded-server.log")
        server.start()
        try:
            yield World(backend, server, _build(server, env))
        finally:
            server.stop()
        return
    with serving(folder / "server.log") as server:
        env = {**server.environment(), "TELLUS_VAR_DIR": str(var_dir)}
        run_python(["-m", "tests.crawl_world", "prepare"], env)
        yield World(backend, server, _build(server, env))


def _build(server: LiveServer, env: dict[str, str]) -> dict:
    output = run_python(["-m", "tests.crawl_world", "build", server.url], env)
    return json.loads(output.strip().splitlines()[-1])
