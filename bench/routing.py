"""Layer-level routing benchmark: N processes (N = 2, 4, 8), the same total sockets and rate.

Each worker process runs one FanoutChannelLayer holding SOCKETS/N user groups (one channel per
user, a sink that counts). The parent publishes EVENTS events, each to 2 random users, at RATE
per second, then prints per worker: CPU seconds per second, events received vs delivered, and
Redis commands per event (INFO commandstats delta, the whole Redis db — run it on a quiet db).
This is the layer without daphne or sockets (the figures are counts and ratios on a shared
machine, not speeds):

    REDIS_URL=redis://127.0.0.1:6379/8 .venv/bin/python bench/routing.py --routing fanout
    REDIS_URL=redis://127.0.0.1:6379/8 .venv/bin/python bench/routing.py --routing process
"""

import argparse
import asyncio
import multiprocessing
import os
import random
import time
import uuid

import redis

from live.layer import FanoutChannelLayer


def worker(url, prefix, routing, users, ready, done, out):
    async def main():
        layer = FanoutChannelLayer(hosts=[{"address": url, "socket_timeout": None}], prefix=prefix, routing=routing)
        delivered = 0

        def sink(message):
            nonlocal delivered
            delivered += 1

        for user in users:
            channel = await layer.new_channel()
            layer.attach_sink(channel, sink)
            await layer.group_add(f"user.{user}", channel)
        ready.set()
        start_cpu, start = time.process_time(), time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # the last publishes
        cpu, wall = time.process_time() - start_cpu, time.monotonic() - start
        out.put((os.getpid(), cpu / wall, layer.state().received, delivered))
        await layer.flush()

    asyncio.run(main())


def commands(client):
    return sum(v["calls"] for k, v in client.info("commandstats").items())


def run(url, routing, processes, sockets, events, rate):
    prefix = f"bench-routing-{uuid.uuid4().hex[:8]}"
    per = sockets // processes
    ctx = multiprocessing.get_context("fork")
    done, out = ctx.Event(), ctx.Queue()
    readies, procs = [], []
    for i in range(processes):
        ready = ctx.Event()
        users = range(i * per, (i + 1) * per)
        proc = ctx.Process(target=worker, args=(url, prefix, routing, list(users), ready, done, out))
        proc.start()
        readies.append(ready)
        procs.append(proc)
    for ready in readies:
        ready.wait(60)
    publisher = FanoutChannelLayer(hosts=[{"address": url, "socket_timeout": None}], prefix=prefix, routing=routing)
    client = redis.Redis.from_url(url)
    before = commands(client)
    message = {"type": "live.event", "text": "{}"}
    for _ in range(events):
        publisher.group_send_many_sync([f"user.{random.randrange(per * processes)}" for _ in range(2)], message)
        time.sleep(1 / rate)
    per_event = (commands(client) - before - 1) / events
    done.set()
    rows = sorted(out.get(timeout=30) for _ in procs)
    for proc in procs:
        proc.join(10)
    print(f"{routing:8} N={processes} redis commands/event={per_event:.2f}")
    for pid, cpu, received, delivered in rows:
        print(f"    pid={pid} cpu_s/s={cpu:.4f} received={received} delivered={delivered}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--routing", choices=["fanout", "process"], nargs="+", default=["fanout", "process"])
    parser.add_argument("--sockets", type=int, default=400)
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--rate", type=float, default=100)
    args = parser.parse_args()
    for routing in args.routing:
        for n in (2, 4, 8):
            run(os.environ["REDIS_URL"], routing, n, args.sockets, args.events, args.rate)
