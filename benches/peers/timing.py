"""What the peer scripts share: the thread count and the timing of one call."""

import os
import statistics
import time

# Threads for the peer's own kernels: `compare.py --threads N` sets it; 1 by default.
THREADS = int(os.environ.get("PEER_THREADS", "1"))


def median_us(call, wait=lambda out: out, samples=20):
    """Median µs per `call()` over `samples` timings, each of as many calls as fill 50 ms;
    `wait(out)` blocks until the last call's result is computed (for asynchronous dispatch)."""
    wait(call())
    start = time.perf_counter()
    wait(call())
    once = time.perf_counter() - start
    iterations = max(1, int(0.05 / max(once, 1e-7)))
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        for _ in range(iterations):
            out = call()
        wait(out)
        times.append((time.perf_counter() - start) / iterations * 1e6)
    return statistics.median(times)
