"""Where a page's live updates come from: the WebSocket path a page puts in its
`data-live` attribute (console/web/live.py serves it)."""

from urllib.parse import urlencode

LIVE_PATH = "/console/live"


def live_path(page: str, subject: str | None = None, **extra: str) -> str:
    query = {"page": page, **({"id": subject} if subject else {}), **extra}
    return f"{LIVE_PATH}?{urlencode(query)}"
