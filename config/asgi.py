"""ASGI entry point: daphne serves HTTP and the live WebSocket from here."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.sessions import CookieMiddleware, SessionMiddleware  # noqa: E402

from config.warmup import warm_up  # noqa: E402
from live.auth import LiveAuthMiddleware, OriginCheckMiddleware  # noqa: E402
from live.routing import websocket_urlpatterns  # noqa: E402

warm_up()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginCheckMiddleware(
            CookieMiddleware(SessionMiddleware(LiveAuthMiddleware(URLRouter(websocket_urlpatterns))))
        ),
    }
)
