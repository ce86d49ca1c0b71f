import asyncio
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from live import push


@pytest.mark.asyncio
async def test_publish_sends_a_live_event_to_each_users_group():
    # Works with whichever layer is configured (in-memory, or Redis with REDIS_URL).
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(push.user_group(42), channel)
    try:
        await sync_to_async(push.publish)([42], {"type": "notification.read", "unread": 0})

        message = await asyncio.wait_for(layer.receive(channel), timeout=5)
    finally:
        await layer.group_discard(push.user_group(42), channel)

    assert message["type"] == "live.event"
    assert message["event"] == {"type": "notification.read", "unread": 0}


def test_push_on_commit_publishes_once_after_commit_each_user_once(db, django_capture_on_commit_callbacks):
    with mock.patch("live.push.publish") as publish, django_capture_on_commit_callbacks(execute=True) as callbacks:
        push.push_on_commit([3, 4, 3, None], {"type": "probe"})
        publish.assert_not_called()

    assert len(callbacks) == 1
    publish.assert_called_once_with([3, 4], {"type": "probe"})


def test_push_on_commit_to_nobody_registers_nothing(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        push.push_on_commit([], {"type": "probe"})

    assert callbacks == []


def test_a_failing_channel_layer_is_logged_never_raised(caplog):
    broken = mock.Mock(spec=["group_send"])  # a layer without the fan-out: the async group_send
    broken.group_send = mock.AsyncMock(side_effect=ConnectionError("redis down"))

    with mock.patch("live.push.get_channel_layer", return_value=broken):
        push.publish([7], {"type": "notification.new"})

    assert "live push to user 7 failed" in caplog.text


def test_a_failing_fanout_publish_is_logged_never_raised(caplog):
    broken = mock.Mock(spec=["group_send", "group_send_many_sync"])  # live.layer's sync publish
    broken.group_send_many_sync.side_effect = ConnectionError("redis down")

    with mock.patch("live.push.get_channel_layer", return_value=broken):
        push.publish([7], {"type": "notification.new"})

    assert "live push of notification.new to 1 users failed" in caplog.text
    broken.group_send.assert_not_called()
