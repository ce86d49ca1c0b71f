"""The live socket's ASGI application: its one route, /ws/live/, behind the Origin check and
authentication (live.auth). config.asgi mounts it beside Django's HTTP application."""

from channels.routing import URLRouter
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.urls import path

from live.auth import LiveAuthMiddleware, OriginCheckMiddleware, TicketRedeemer
from live.consumer import LiveConsumer

websocket_urlpatterns = [
    path("ws/live/", LiveConsumer.as_asgi()),
]


def websocket_application(*, redeem_ticket: TicketRedeemer):
    """The whole socket stack: Origin check (and socket count, access log, Sentry), cookies and
    session, then the user and credential from a ticket (`redeem_ticket`) or the session."""
    return OriginCheckMiddleware(
        CookieMiddleware(
            SessionMiddleware(LiveAuthMiddleware(URLRouter(websocket_urlpatterns), redeem_ticket=redeem_ticket))
        )
    )
