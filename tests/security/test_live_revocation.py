"""An open live socket obeys the end of its way in (issue 12, item 1), on the in-memory layer.

Each trigger is driven the way a person does it — the logout button, the API, the password
pages, the admin and its moderation action — and the sockets it ends must close with
CLOSE_SIGNED_OUT (4401) within a second of the answer, while every other socket stays open.
When the revocation message is lost (the channel layer is at most once), the socket still
cannot send: its next frame finds the credential gone and the socket closes, nothing stored.
tests/security/test_live_revocation_cross_process.py does the same across two daphnes on Redis.
"""

import json
import time

import pytest
from channels.db import database_sync_to_async
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import User
from chat.models import Message
from chat.tests.factories import client_id, direct_between
from live import access as live_access
from live import push
from tests.security.live_sockets import TIMEOUT, communicator, next_frame
from tests.security.triggers import (
    EVERY_SOCKET_TRIGGERS,
    NEW_PASSWORD,
    ApiLogin,
    Browser,
    change_password_on_the_page,
    change_password_through_the_api,
    moderation_action,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

WITHIN = 1.0  # seconds: the promise


async def _open(*, cookie=None, ticket=None):
    ws = communicator(cookie=cookie, ticket=ticket)
    connected, _ = await ws.connect(timeout=TIMEOUT)
    assert connected
    assert (await next_frame(ws))["type"] == "hello"
    return ws


async def browser_socket(browser: Browser):
    return await _open(cookie=browser.cookie)


async def ticket_socket(login: ApiLogin):
    return await _open(ticket=await database_sync_to_async(login.ticket)())


async def assert_signed_out(ws, *, since: float) -> None:
    output = await ws.receive_output(timeout=TIMEOUT)
    while output["type"] != "websocket.close":  # frames already on their way may come first
        output = await ws.receive_output(timeout=TIMEOUT)
    assert output.get("code") == live_access.CLOSE_SIGNED_OUT
    assert time.monotonic() - since < WITHIN


async def assert_still_open_for(ws, seconds: float) -> None:
    """Nothing closes the socket for `seconds` (events may come meanwhile, e.g. a notification)."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if await ws.receive_nothing(timeout=left):
            return
        assert (await ws.receive_output())["type"] != "websocket.close"


async def assert_open(ws) -> None:
    await ws.send_json_to({"type": "ping"})
    assert await next_frame(ws) == {"type": "pong"}


async def run(function, *args, **kwargs):
    """Do it in a thread, as a request to the site would be; the monotonic time it returned."""
    await database_sync_to_async(function)(*args, **kwargs)
    return time.monotonic()


# --- each trigger closes what it ends, and nothing else ------------------------------------------


async def test_logging_out_closes_the_sockets_of_that_session_and_no_other(ada, bob):
    here, elsewhere = await database_sync_to_async(Browser)(ada), await database_sync_to_async(Browser)(ada)
    api = await database_sync_to_async(ApiLogin)(ada)
    tab1, tab2 = await browser_socket(here), await browser_socket(here)
    other_session, api_socket = await browser_socket(elsewhere), await ticket_socket(api)
    bobs = await browser_socket(await database_sync_to_async(Browser)(bob))

    done = await run(here.client.post, reverse("accounts:logout"))

    await assert_signed_out(tab1, since=done)
    await assert_signed_out(tab2, since=done)
    for ws in (other_session, api_socket, bobs):
        await assert_open(ws)
        await ws.disconnect()


async def test_an_api_logout_closes_the_sockets_of_that_api_login_and_no_other(ada):
    this_login, other_login = await database_sync_to_async(ApiLogin)(ada), await database_sync_to_async(ApiLogin)(ada)
    mine, theirs = await ticket_socket(this_login), await ticket_socket(other_login)
    browser = await browser_socket(await database_sync_to_async(Browser)(ada))

    done = await run(APIClient().post, reverse("api:logout"), {"refresh": this_login.tokens["refresh"]}, format="json")

    await assert_signed_out(mine, since=done)
    for ws in (theirs, browser):
        await assert_open(ws)
        await ws.disconnect()


async def test_an_api_logout_after_refresh_rotation_still_closes_that_logins_sockets(ada):
    login = await database_sync_to_async(ApiLogin)(ada)
    ws = await ticket_socket(login)

    def rotate_then_log_out():
        rotated = APIClient().post(reverse("api:token_refresh"), {"refresh": login.tokens["refresh"]}, format="json")
        assert rotated.status_code == 200, rotated.content
        out = APIClient().post(reverse("api:logout"), {"refresh": rotated.json()["refresh"]}, format="json")
        assert out.status_code == 200, out.content

    done = await run(rotate_then_log_out)

    await assert_signed_out(ws, since=done)


@pytest.mark.parametrize("trigger", EVERY_SOCKET_TRIGGERS)
async def test_the_trigger_closes_every_socket_of_the_user_and_no_one_elses(ada, bob, trigger):
    browser, login = await database_sync_to_async(Browser)(ada), await database_sync_to_async(ApiLogin)(ada)
    sockets = [await browser_socket(browser), await browser_socket(browser), await ticket_socket(login)]
    bobs = await browser_socket(await database_sync_to_async(Browser)(bob))

    done = await run(EVERY_SOCKET_TRIGGERS[trigger], browser, login)

    for ws in sockets:
        await assert_signed_out(ws, since=done)
    await assert_open(bobs)
    await bobs.disconnect()


async def test_a_new_socket_after_a_password_change_on_the_same_session_works(ada):
    browser = await database_sync_to_async(Browser)(ada)
    old = await browser_socket(browser)

    done = await run(change_password_on_the_page, browser)

    await assert_signed_out(old, since=done)
    browser.cookie = browser.client.cookies["sessionid"].value  # the page keeps its session (a new key)
    again = await browser_socket(browser)
    await assert_open(again)
    await again.disconnect()


async def test_a_ticket_bought_before_a_password_change_opens_nothing(ada):
    login = await database_sync_to_async(ApiLogin)(ada)
    ticket = await database_sync_to_async(login.ticket)()
    await database_sync_to_async(account_services.change_password)(user=ada, new_password=NEW_PASSWORD)

    connected, _ = await communicator(ticket=ticket).connect(timeout=TIMEOUT)

    assert not connected


# --- a lost revocation message: the socket still cannot send ---------------------------------------
async def assert_a_send_is_refused_signed_out(ws, conversation) -> None:
    """A send on `ws` closes it as signed out (4401) and stores nothing."""
    started = time.monotonic()
    await ws.send_to(
        text_data=json.dumps(
            {"type": "message.send", "conversation": conversation.pk, "body": "still here?", "client_id": client_id()}
        )
    )
    await assert_signed_out(ws, since=started)
    assert not await database_sync_to_async(Message.objects.filter(conversation=conversation).exists)()


def _deactivate_behind_the_services_back(browser, login):
    User.objects.filter(pk=browser.user.pk).update(is_active=False)


def _delete_the_session_behind_the_services_back(browser, login):
    Session.objects.filter(session_key=browser.cookie).delete()


LOST_MESSAGE_CASES = {
    # (the trigger, whether the socket was opened with the ticket rather than the session)
    "logout": (lambda browser, login: browser.client.post(reverse("accounts:logout")), False),
    "api logout": (
        lambda browser, login: APIClient().post(reverse("api:logout"), {"refresh": login.tokens["refresh"]}),
        True,
    ),
    "password change": (lambda browser, login: change_password_on_the_page(browser), False),
    "password change, ticket": (lambda browser, login: change_password_through_the_api(login), True),
    "moderation action": (lambda browser, login: moderation_action(browser.user), False),
    "is_active updated in a shell": (_deactivate_behind_the_services_back, True),
    "session row deleted": (_delete_the_session_behind_the_services_back, False),
}


@pytest.mark.parametrize("case", LOST_MESSAGE_CASES)
async def test_a_socket_whose_revocation_was_lost_cannot_send(ada, bob, lost_revocations, case):
    trigger, with_ticket = LOST_MESSAGE_CASES[case]
    conversation = await database_sync_to_async(direct_between)(ada, bob)
    browser, login = await database_sync_to_async(Browser)(ada), await database_sync_to_async(ApiLogin)(ada)
    ws = await (ticket_socket(login) if with_ticket else browser_socket(browser))
    await run(trigger, browser, login)
    await assert_still_open_for(ws, 0.2)  # the message was lost: nothing closed it

    await assert_a_send_is_refused_signed_out(ws, conversation)


async def test_a_lost_api_logout_still_closes_its_socket_after_the_cache_was_emptied(ada, bob, lost_revocations):
    # A Redis restart (it keeps nothing on disk) empties the cache: the logout is a database row.
    conversation = await database_sync_to_async(direct_between)(ada, bob)
    login = await database_sync_to_async(ApiLogin)(ada)
    ws = await ticket_socket(login)
    await run(LOST_MESSAGE_CASES["api logout"][0], None, login)
    await database_sync_to_async(cache.clear)()
    await assert_still_open_for(ws, 0.2)  # the message was lost: nothing closed it

    await assert_a_send_is_refused_signed_out(ws, conversation)


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "typing"},
        {"type": "read", "seq": 0},
        {"type": "resync", "conversations": {}},
        {"type": "presence.query"},
        {"type": "chat.unread.query"},
    ],
    ids=lambda frame: frame["type"],
)
async def test_a_socket_whose_revocation_was_lost_answers_no_frame_that_reads(ada, bob, lost_revocations, frame):
    conversation = await database_sync_to_async(direct_between)(ada, bob)
    browser = await database_sync_to_async(Browser)(ada)
    ws = await browser_socket(browser)
    await run(_deactivate_behind_the_services_back, browser, None)
    frame = {**frame, "conversation": conversation.pk}
    if frame["type"] == "resync":
        frame["conversations"] = {str(conversation.pk): 0}

    started = time.monotonic()
    await ws.send_json_to(frame)

    await assert_signed_out(ws, since=started)


async def test_when_the_layer_resubscribed_a_revoked_socket_closes_instead_of_saying_hello(ada, lost_revocations):
    from channels.layers import get_channel_layer

    from live.layer import RESUBSCRIBED

    browser = await database_sync_to_async(Browser)(ada)
    ws = await browser_socket(browser)
    await run(browser.client.post, reverse("accounts:logout"))

    started = time.monotonic()
    await get_channel_layer().group_send(push.user_group(ada.pk), {"type": RESUBSCRIBED})

    await assert_signed_out(ws, since=started)
