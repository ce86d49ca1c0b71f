"""Runs an ASGI server's console script (uvicorn, daphne) in this process, with a CPU profile and
an allocation trace that the benchmark switches on and off by signal.

    python bench/serve_instrumented.py --out DIR/NAME -- /path/to/.venv/bin/uvicorn --port ... app

- SIGUSR2 starts a cProfile.Profile (wall clock); the next SIGUSR2 stops it and writes
  `NAME.cpu<k>.prof` (k = 1, 2, … per window): chat_load.py brackets the connect burst with it
  (window 1) and each load step's send window, so a profile holds those and not the start-up. On
  Python 3.12+ cProfile uses sys.monitoring, so the live database threads' calls are in it too
  (and their waits: see toggle_profile). Beside it, `NAME.gc<k>.json`: the garbage collector's pauses in the window
  (count, total and longest, per generation) and the objects it tracks at the end. With
  `--gc-only` a window records only those pauses (no profile, so the server runs at its speed).
- SIGUSR1 starts tracemalloc (`--trace-frames` frames per allocation); the next SIGUSR1 takes a
  snapshot, writes `NAME.mem.json` (the traced total and the top allocation sites) and stops
  tracing: bracketing the connect burst and the idle time after it shows what the sockets
  hold, by source line.

Why a wrapper and not `python -m cProfile`: uvicorn re-raises the SIGTERM it handled once it has
shut down (uvicorn.server.Server.capture_signals), and the default SIGTERM action ends the
process before cProfile's `finally` writes the profile, so a profiled uvicorn never wrote one.
Here each profile is written from the signal handler, while the server runs.

Only the standard library; the server is the script's own `main`, found with runpy.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import runpy
import signal
import sys
import time
import tracemalloc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="path prefix of the files written")
    parser.add_argument("--trace-frames", type=int, default=8, help="frames kept per traced allocation")
    parser.add_argument("--top", type=int, default=40, help="allocation sites written")
    parser.add_argument(
        "--gc-only",
        action="store_true",
        help="SIGUSR2 windows record the garbage collector's pauses only (no CPU profile, which slows the server)",
    )
    parser.add_argument("server", nargs=argparse.REMAINDER, help="-- the console script and its arguments")
    args = parser.parse_args()
    server = args.server[1:] if args.server[:1] == ["--"] else args.server
    profile: list[cProfile.Profile] = []
    windows = [0]
    # The garbage collector's pauses in the current window, per generation: [count, total, max].
    pauses: dict[int, list[float]] = {}
    collecting: dict[str, float] = {}

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            collecting["t"] = time.perf_counter()
        elif "t" in collecting:
            pause = time.perf_counter() - collecting.pop("t")
            entry = pauses.setdefault(info["generation"], [0, 0.0, 0.0])
            entry[0] += 1
            entry[1] += pause
            entry[2] = max(entry[2], pause)

    def toggle_gc_window(_signum, _frame) -> None:
        if on_gc in gc.callbacks:
            gc.callbacks.remove(on_gc)
            windows[0] += 1
            with open(f"{args.out}.gc{windows[0]}.json", "w") as handle:
                json.dump({"objects": len(gc.get_objects()), "pauses": pauses}, handle)
        else:
            pauses.clear()
            gc.callbacks.append(on_gc)

    def toggle_profile(_signum, _frame) -> None:
        if profile:
            profiler = profile.pop()
            profiler.disable()
            gc.callbacks.remove(on_gc)
            windows[0] += 1
            profiler.dump_stats(f"{args.out}.cpu{windows[0]}.prof")
            with open(f"{args.out}.gc{windows[0]}.json", "w") as handle:
                json.dump({"objects": len(gc.get_objects()), "pauses": pauses}, handle)
        else:
            pauses.clear()
            gc.callbacks.append(on_gc)
            # The wall clock (cProfile's default): on Python 3.12 one profiler sees every
            # thread's calls on one stack, and a per-thread CPU clock (time.thread_time) mixed
            # across threads gives nonsense. So a database thread's waits (SimpleQueue.get, a
            # query's round trip) count as that function's own time.
            profiler = cProfile.Profile()
            profile.append(profiler)
            profiler.enable()

    def toggle_trace(_signum, _frame) -> None:
        if not tracemalloc.is_tracing():
            tracemalloc.start(args.trace_frames)
            return
        snapshot = tracemalloc.take_snapshot()
        traced, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        snapshot = snapshot.filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
        sites = []
        # Grouped by the innermost frame outside the standard library's and the server's
        # plumbing would hide the line that allocates; both views are written.
        for key in ("lineno", "traceback"):
            for stat in snapshot.statistics(key)[: args.top]:
                sites.append(
                    {
                        "group": key,
                        "size": stat.size,
                        "count": stat.count,
                        "frames": [f"{frame.filename}:{frame.lineno}" for frame in stat.traceback][:8],
                    }
                )
        with open(f"{args.out}.mem.json", "w") as handle:
            json.dump({"traced": traced, "peak": peak, "sites": sites}, handle)

    signal.signal(signal.SIGUSR1, toggle_trace)
    signal.signal(signal.SIGUSR2, toggle_gc_window if args.gc_only else toggle_profile)
    sys.argv = server
    runpy.run_path(server[0], run_name="__main__")


if __name__ == "__main__":
    main()
