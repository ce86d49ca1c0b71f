"""WebSocket routes; config.asgi wraps them in the Origin check and live authentication."""

from django.urls import path

from live.consumer import LiveConsumer

websocket_urlpatterns = [
    path("ws/live/", LiveConsumer.as_asgi()),
]
