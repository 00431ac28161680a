"""WebSocket routes. The operator telemetry stream and the console's live fragments
are added here as they are built."""

websocket_urlpatterns: list = []
