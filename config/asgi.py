"""ASGI entry point: daphne serves HTTP and the live WebSocket (live.routing) from here."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from accounts.services import redeem_live_ticket  # noqa: E402
from config.warmup import warm_up  # noqa: E402
from live.routing import websocket_application  # noqa: E402

warm_up()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": websocket_application(redeem_ticket=redeem_live_ticket),
    }
)
