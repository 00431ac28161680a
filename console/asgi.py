"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

from console import log_redaction
from console.handshake_limits import allow_stream_urls
from console.heap import settle_heap

django_asgi_app = get_asgi_application()
# Before the server logs its first request line (the stream's token is in its query).
log_redaction.install()
# Before the server parses its first WebSocket handshake (the stream's device ids are in its URL).
allow_stream_urls()

from api.device.fastpath import DeviceFastPath  # noqa: E402

http_app = django_asgi_app
if settings.TELLUS_SERVE_STATIC:
    # The console's own CSS and JS, served by the app so `make run` needs nothing else;
    # behind a reverse proxy, let the proxy serve /static/ and turn this off.
    http_app = ASGIStaticFilesHandler(http_app)
# Outermost: the charger hot path skips everything else (see api.device.fastpath).
http_app = DeviceFastPath(http_app)

from console.routing import websocket_urlpatterns  # noqa: E402
from console.websocket_outage import RedisOutageGuard  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": RedisOutageGuard(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

settle_heap()
