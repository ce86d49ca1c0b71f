import asyncio
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from notifications import realtime


@pytest.mark.asyncio
async def test_push_to_user_sends_a_live_event_to_the_users_group():
    # Works with whichever layer is configured (in-memory, or Redis with REDIS_URL).
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(realtime.user_group(42), channel)
    try:
        await sync_to_async(realtime.push_to_user)(42, {"type": "notification.read", "unread": 0})

        message = await asyncio.wait_for(layer.receive(channel), timeout=5)
    finally:
        await layer.group_discard(realtime.user_group(42), channel)

    assert message["type"] == "live.event"
    assert message["event"] == {"type": "notification.read", "unread": 0}


def test_a_failing_channel_layer_is_logged_never_raised(caplog):
    broken = mock.Mock(spec=["group_send"])  # a layer without the fan-out: the async group_send
    broken.group_send = mock.AsyncMock(side_effect=ConnectionError("redis down"))

    with mock.patch("notifications.realtime.get_channel_layer", return_value=broken):
        realtime.push_to_user(7, {"type": "notification.new"})

    assert "live push to user 7 failed" in caplog.text


def test_a_failing_fanout_publish_is_logged_never_raised(caplog):
    broken = mock.Mock(spec=["group_send", "group_send_many_sync"])  # live.layer's sync publish
    broken.group_send_many_sync.side_effect = ConnectionError("redis down")

    with mock.patch("notifications.realtime.get_channel_layer", return_value=broken):
        realtime.push_to_user(7, {"type": "notification.new"})

    assert "live push to user 7 failed" in caplog.text
    broken.group_send.assert_not_called()
