"""config.status: this process's live socket count, published to Redis for the status page."""

import asyncio

from config import status


def _published_count() -> int:
    rows, error = status.live_sockets_by_process()
    assert not error
    return next(row["count"] for row in rows if row["process"] == status.PROCESS_ID)


def test_a_burst_of_opens_and_closes_is_published_within_the_delay(settings, redis_url):
    settings.REDIS_URL = redis_url
    base = status.live_socket_count()

    async def burst() -> int:
        for _ in range(30):
            await status.socket_opened()
        for _ in range(10):
            await status.socket_closed()
        await asyncio.sleep(3 * status.PUBLISH_DELAY_SECONDS)
        return _published_count()

    try:
        assert asyncio.run(burst()) == base + 20
    finally:
        asyncio.run(_close(20))


async def _close(sockets: int) -> None:
    for _ in range(sockets):
        await status.socket_closed()


def test_a_socket_closed_while_its_loop_shuts_down_leaves_no_pending_task(settings, redis_url):
    # given: a socket whose task the loop's shutdown cancels (asyncio.run, pytest-asyncio's and
    # the servers' loops end so), reporting its close from its `finally`
    settings.REDIS_URL = redis_url
    loops = []

    async def socket() -> None:
        await status.socket_opened()
        try:
            await asyncio.sleep(60)
        finally:
            await status.socket_closed()

    async def serve() -> None:
        loops.append(asyncio.get_running_loop())
        loops[0].create_task(socket())
        await asyncio.sleep(2 * status.PUBLISH_DELAY_SECONDS)

    # when
    asyncio.run(serve())

    # then: nothing it scheduled was left pending on the closed loop ("Task was destroyed but it
    # is pending" once collected)
    assert loops[0].is_closed()
    assert asyncio.all_tasks(loops[0]) == set()
