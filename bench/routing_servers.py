"""Many processes (issue 15): 2, 4 and 8 uvicorn servers, the same sockets and rate, per routing.

    .venv/bin/python bench/routing_servers.py                           # 2,4,8 x fanout,process (~8 min)
    .venv/bin/python bench/routing_servers.py --processes 2,4 --routing process --rate 50

For each routing (LIVE_ROUTING=fanout, =process) and each process count N: Lyceum's full stack as
bench/chat_load.py runs it (its database filling, private redis-server, uvicorn processes and
load generators, reused from there): N uvicorn processes, the same 1,000 authenticated sockets
spread over them (user i on process i % N), one open-loop step of `--rate` messages/s for
`--step-seconds`, every user sending in turn. Printed, per server process:

- CPU seconds per second over the send window (psutil);
- live events received, deliveries made, and events received for nobody the process holds (the
  layer's own counters, read from the Redis hash every process writes them to, every
  LIVE_STATS_SECONDS, set to 1 s here: live/layer.py, STATS_KEY);

and site-wide, over the same window (from a quiet moment before the step to one after its
drain), per message sent: Redis ROUND TRIPS (the commands clients sent, counted with MONITOR)
and commands EXECUTED (`INFO commandstats`, which also counts what a Lua script runs inside its
one call: with LIVE_ROUTING=process the route script's SUNION, ZMSCORE and PUBLISH), the route
script's calls (EVALSHA) and PUBLISH per message (PUBLISH counted wherever it ran), the
registry's writes per second (liveness heartbeats and route SADD/SREM, from MONITOR), and the
busiest commands. The counters
are read when they have stood still for two writes, so they cover the step and its drain
exactly. On a shared machine: the load average is printed; compare the counts and CPU seconds
of one sitting, not wall-clock latencies.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import resource
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import psutil
import redis
from bench_db import lyceum_env
from chat_load import (
    BASE_DIR,
    Client,
    Services,
    empty_conversations,
    generator_main,
    machine_load,
    prepare_database,
    stop_generators,
)

STATS_SECONDS = 1.0
DEFAULT_DATABASE_URL = "mysql://root@127.0.0.1:3306/lyceum_routing"


def commandstats(client: redis.Redis) -> Counter:
    stats = client.info("commandstats")
    return Counter({name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()})


class RoundTrips:
    """MONITOR of the private redis-server from start to stop(): the commands clients sent (one
    round trip each; "tcp" in MONITOR's output) by name, apart from what scripts ran inside their
    call ("lua"), the route script's calls (an EVALSHA naming route sets: one per routed message;
    the chat's send throttle is a script too) and the other commands on the routing registry
    (liveness heartbeats, the SADD/SREM of joins and leaves)."""

    REGISTRY = ("__route__:", "__procs__")

    def __init__(self, redis_url: str):
        self.client = redis.Redis.from_url(redis_url)
        self.marker = f"routing-bench-end-{secrets.token_hex(4)}"
        self.sent: Counter = Counter()
        self.in_scripts: Counter = Counter()
        self.registry: Counter = Counter()
        self.route_calls = 0
        ready = threading.Event()
        self.thread = threading.Thread(target=self.listen, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    def listen(self, ready: threading.Event) -> None:
        with self.client.monitor() as monitor:
            ready.set()
            while True:
                entry = monitor.next_command()
                command = entry["command"]
                if self.marker in command:
                    return
                name = command.split(" ", 1)[0].lower()
                if entry["client_type"] == "lua":
                    self.in_scripts[name] += 1
                    continue
                self.sent[name] += 1
                if not any(key in command for key in self.REGISTRY):
                    continue
                if name in {"evalsha", "eval"}:
                    self.route_calls += 1
                else:
                    self.registry[name] += 1

    def stop(self) -> None:
        self.client.echo(self.marker)
        self.thread.join(30)
        self.client.close()


def layer_stats(client: redis.Redis) -> dict[int, dict[str, int]]:
    """The live counters of every server process, by pid (live/layer.py, STATS_KEY)."""
    by_pid: dict[int, Counter] = defaultdict(Counter)
    for key in client.scan_iter(match="*__stats__:*", count=500):
        fields = client.hgetall(key)
        pid = int(fields[b"pid"])
        for name in ("received", "delivered", "for_nobody"):
            by_pid[pid][name] += int(fields.get(name.encode(), 0))
    return by_pid


def settled_stats(client: redis.Redis, timeout: float = 20.0) -> dict[int, dict[str, int]]:
    """The counters once two consecutive writes agree (nothing in flight any more)."""
    deadline = time.monotonic() + timeout
    last = layer_stats(client)
    while time.monotonic() < deadline:
        time.sleep(2.2 * STATS_SECONDS)
        now = layer_stats(client)
        if now == last:
            return now
        last = now
    return last


def run_one(services: Services, args, users, members_of, secret_key: str, routing: str, n: int) -> dict:
    name = f"{routing}-{n}"
    empty_conversations()
    redis_url = services.redis(f"{name}-redis")
    env = lyceum_env(args.database_url, redis_url, secret_key)
    env.update(LIVE_ROUTING=routing, LIVE_STATS_SECONDS=str(STATS_SECONDS))
    ports = [
        services.asgi(f"{name}-{i}", "uvicorn", "config.asgi:application", cwd=BASE_DIR, env=env)
        for i in range(1, n + 1)
    ]
    pids = [services.processes[f"{name}-{i}"].pid for i in range(1, n + 1)]
    clients = [
        Client(
            uid=uid,
            index=index,
            conversation=conversation,
            url=f"ws://127.0.0.1:{ports[index % n]}/ws/live/",
            headers={"Origin": f"http://127.0.0.1:{ports[index % n]}", "Cookie": f"sessionid={key}"},
        )
        for index, (uid, conversation, key) in enumerate(users)
    ]
    owner = {c.uid: (c.index // 2) % args.generators for c in clients}
    ctx = mp.get_context("spawn")
    pipes, procs = [], []
    for g in range(args.generators):
        parent, child = ctx.Pipe()
        share = [c for c in clients if owner[c.uid] == g]
        proc = ctx.Process(target=generator_main, args=(child, "lyceum", share, True), daemon=True)
        proc.start()
        pipes.append(parent)
        procs.append(proc)
    client = redis.Redis.from_url(redis_url)
    try:
        start = time.monotonic() + 1.0
        for pipe in pipes:
            pipe.send({"cmd": "connect", "start": start, "deadline": start + 30})
        connected = sum(len(pipe.recv()["times"]) for pipe in pipes)
        if connected < len(clients):
            for pipe in pipes:
                pipe.send({"cmd": "connect_rest", "concurrency": 8, "deadline": time.monotonic() + 60})
            connected += sum(len(pipe.recv()["times"]) for pipe in pipes)
        time.sleep(3)
        round_trips = RoundTrips(redis_url)
        before, commands_before = settled_stats(client), commandstats(client)
        window_start = time.monotonic()

        processes = {pid: psutil.Process(pid) for pid in pids}
        start = time.monotonic() + 0.5
        for pipe in pipes:
            pipe.send({"cmd": "step", "step": 1, "rate": args.rate / args.generators, "start": start,
                       "seconds": args.step_seconds})  # fmt: skip
        time.sleep(max(0.0, start - time.monotonic()))
        cpu0 = {pid: sum(p.cpu_times()[:2]) for pid, p in processes.items()}
        t0 = time.monotonic()
        time.sleep(max(0.0, start + args.step_seconds - time.monotonic()))
        cpu = {pid: (sum(p.cpu_times()[:2]) - cpu0[pid]) / (time.monotonic() - t0) for pid, p in processes.items()}
        load = os.getloadavg()
        sent = [s for pipe in pipes for s in pipe.recv()["sent"]]
        expected_pairs, expected_per_gen = set(), Counter()
        for key, conversation, uid, _t in sent:
            for member in members_of[conversation]:
                if member != uid:
                    expected_pairs.add((key, member))
                    expected_per_gen[owner[member]] += 1
        until = time.monotonic() + 30
        for g, pipe in enumerate(pipes):
            pipe.send({"cmd": "drain", "step": 1, "expected": expected_per_gen[g], "until": until, "idle": 3.0})
        arrived = {(key, uid) for pipe in pipes for key, uid, _t in pipe.recv()["received"]}
        after, commands_after = settled_stats(client), commandstats(client)
        round_trips.stop()
        window = time.monotonic() - window_start
    finally:
        stop_generators(pipes, procs)
        client.close()
        services.stop_all()
    per_process = []
    for i, pid in enumerate(pids, start=1):
        old, new = before.get(pid, {}), after.get(pid, {})
        delta = {k: new.get(k, 0) - old.get(k, 0) for k in ("received", "delivered", "for_nobody")}
        per_process.append({"name": f"uvicorn{i}", "cpu": cpu[pid], **delta})
    commands = commands_after - commands_before
    return {
        "window": window,
        "routing": routing,
        "n": n,
        "connected": connected,
        "sent": len(sent),
        "expected": len(expected_pairs),
        "arrived": len(arrived & expected_pairs),
        "load": load,
        "processes": per_process,
        "commands": commands,
        "round_trips": round_trips.sent,
        "in_scripts": round_trips.in_scripts,
        "registry": round_trips.registry,
        "route_calls": round_trips.route_calls,
    }


def print_result(r: dict, step_seconds: float) -> None:
    sent = r["sent"] or 1
    print(
        f"\n[{r['routing']} x{r['n']}] sockets {r['connected']}, sent {r['sent']} ({r['sent'] / step_seconds:.0f}/s), "
        f"deliveries {r['arrived']}/{r['expected']}, load {r['load'][0]:.1f}/{r['load'][1]:.1f}/{r['load'][2]:.1f}",
        flush=True,
    )
    for p in r["processes"]:
        print(
            f"  {p['name']:<9} cpu {p['cpu']:.3f} s/s  received {p['received']:>6}  delivered {p['delivered']:>6}  "
            f"for nobody here {p['for_nobody']:>6} ({p['for_nobody'] / step_seconds:.0f}/s)",
            flush=True,
        )
    c, executed, trips = r["commands"], sum(r["commands"].values()), sum(r["round_trips"].values())
    busiest = ", ".join(f"{name} {calls / sent:.2f}" for name, calls in c.most_common(6))
    inside = ", ".join(f"{name} {calls / sent:.2f}" for name, calls in r["in_scripts"].most_common()) or "none"
    registry = ", ".join(f"{name} {calls / r['window']:.1f}/s" for name, calls in r["registry"].most_common()) or "none"
    print(
        f"  redis per message: {trips / sent:.2f} round trips, {executed / sent:.2f} commands executed "
        f"(inside scripts: {inside}); route script calls {r['route_calls'] / sent:.2f}, all EVALSHA "
        f"{c['evalsha'] / sent:.2f}, PUBLISH {c['publish'] / sent:.2f}; registry writes: {registry}; "
        f"busiest executed per message: {busiest}",
        flush=True,
    )


def print_summary(results: list[dict], step_seconds: float) -> None:
    print("\nrouting   N  cpu s/s per process (mean)  received/s per process  for-nobody/s per process  "
          "round trips/msg  commands executed/msg  route EVALSHA/msg  PUBLISH/msg  registry writes/s  "
          "deliveries")  # fmt: skip
    for r in results:
        n, procs, sent, c = r["n"], r["processes"], r["sent"] or 1, r["commands"]
        print(
            f"{r['routing']:<8} {n:>2}  {sum(p['cpu'] for p in procs) / n:>26.3f}  "
            f"{sum(p['received'] for p in procs) / n / step_seconds:>22.0f}  "
            f"{sum(p['for_nobody'] for p in procs) / n / step_seconds:>24.0f}  "
            f"{sum(r['round_trips'].values()) / sent:>15.2f}  "
            f"{sum(c.values()) / sent:>21.2f}  "
            f"{r['route_calls'] / sent:>17.2f}  "
            f"{c['publish'] / sent:>11.2f}  "
            f"{sum(r['registry'].values()) / r['window']:>17.1f}  "
            f"{r['arrived']}/{r['expected']}",
            flush=True,
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", default="2,4,8", help="server process counts, in order")
    parser.add_argument("--routing", default="fanout,process", help="LIVE_ROUTING values, in order")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="messages/s overall")
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument("--generators", type=int, default=2)
    parser.add_argument("--database-url", default=os.environ.get("ROUTING_DATABASE_URL", DEFAULT_DATABASE_URL))
    args = parser.parse_args(argv)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
    print(f"routing sitting: {machine_load()}", flush=True)
    secret_key = secrets.token_urlsafe(50)
    users = prepare_database(args.database_url, args.users, secret_key, fresh=False)
    members_of: dict[int, list[int]] = defaultdict(list)
    for uid, conversation, _key in users:
        members_of[conversation].append(uid)
    logdir = Path(tempfile.mkdtemp(prefix="routing-servers-"))
    services = Services(logdir)
    results = []
    try:
        for routing in args.routing.split(","):
            for n in map(int, args.processes.split(",")):
                print(f"[{routing} x{n}] starting ({machine_load()})", flush=True)
                results.append(run_one(services, args, users, members_of, secret_key, routing, n))
                print_result(results[-1], args.step_seconds)
    finally:
        services.stop_all()
        shutil.rmtree(logdir, ignore_errors=True)
    print_summary(results, args.step_seconds)
    print(f"at the end: {machine_load()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
