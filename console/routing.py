"""WebSocket routes."""

from django.urls import path

from api.stream import TelemetryStreamConsumer

websocket_urlpatterns = [
    path("v1/operator/stream", TelemetryStreamConsumer.as_asgi()),
]
