"""How much memory and time a block of code costs the process running it, for tests that
assert a bound (the upload bombs) and for bench/upload_bombs.py.

Memory is measured three ways, because each misses something: tracemalloc's peak (every Python
allocation, e.g. the bytes an inflating ZIP member produces), the peak resident set sampled
every few milliseconds by a thread (C allocations too, e.g. Pillow's pixel buffers; zlib, bz2
and Pillow release the GIL while they work, so the sampler keeps running), and the growth of
the process's high-water mark (`resource.getrusage`, which only moves if the block beats the
process's earlier peak). `peak_growth` is the largest of them.
"""

import resource
import threading
import time
import tracemalloc
from contextlib import contextmanager
from dataclasses import dataclass

import psutil

MB = 1024 * 1024


@dataclass
class ResourceUse:
    python_peak: int = 0  # bytes, tracemalloc
    rss_growth: int = 0  # bytes, sampled resident set over the starting one
    maxrss_growth: int = 0  # bytes, growth of ru_maxrss
    seconds: float = 0.0  # wall clock
    cpu_seconds: float = 0.0  # this process, every thread

    @property
    def peak_growth(self) -> int:
        return max(self.python_peak, self.rss_growth, self.maxrss_growth)

    def __str__(self) -> str:
        return (
            f"peak +{self.peak_growth / MB:.1f} MB (python {self.python_peak / MB:.1f}, "
            f"rss {self.rss_growth / MB:.1f}, maxrss {self.maxrss_growth / MB:.1f}), "
            f"{self.seconds:.2f} s wall, {self.cpu_seconds:.2f} s cpu"
        )


def _maxrss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


@contextmanager
def measured(*, trace_python: bool = True, interval: float = 0.002):
    """`with measured() as use: ...`; `use` is filled in when the block ends (also on error).
    tracemalloc slows allocation-heavy Python code several times over: pass
    trace_python=False to time such code (the RSS figures remain)."""
    use = ResourceUse()
    process = psutil.Process()
    start_rss, start_maxrss = process.memory_info().rss, _maxrss()
    peak_rss = start_rss
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_rss
        while not done.wait(interval):
            peak_rss = max(peak_rss, process.memory_info().rss)

    sampler = threading.Thread(target=sample, name="rss-sampler", daemon=True)
    was_tracing = tracemalloc.is_tracing()
    if trace_python and not was_tracing:
        tracemalloc.start()
    tracing = tracemalloc.is_tracing()
    if tracing:
        tracemalloc.reset_peak()
    base_traced = tracemalloc.get_traced_memory()[0]
    sampler.start()
    started, started_cpu = time.perf_counter(), time.process_time()
    try:
        yield use
    finally:
        use.seconds = time.perf_counter() - started
        use.cpu_seconds = time.process_time() - started_cpu
        done.set()
        sampler.join()
        if tracing:
            use.python_peak = max(0, tracemalloc.get_traced_memory()[1] - base_traced)
        if tracing and not was_tracing:
            tracemalloc.stop()
        use.rss_growth = max(0, max(peak_rss, process.memory_info().rss) - start_rss)
        use.maxrss_growth = max(0, _maxrss() - start_maxrss)
