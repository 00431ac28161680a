"""WebSocket routes."""

from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from api.stream import TelemetryStreamConsumer
from console.web.live import ConsoleLiveConsumer

websocket_urlpatterns = [
    path("v1/operator/stream", TelemetryStreamConsumer.as_asgi()),
    # The console's socket rides on the session cookie: only pages of this site may open it.
    path("console/live", AllowedHostsOriginValidator(ConsoleLiveConsumer.as_asgi())),
]
