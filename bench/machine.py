"""How much CPU the machine gave us while the benchmarks ran, to read the figures against."""

import time

WORK = 20_000


def _slice() -> float:
    start = time.perf_counter()
    total = 0
    for i in range(WORK):
        total += i
    return time.perf_counter() - start


def run(slices: int = 1000) -> dict:
    """Time a fixed pure-Python slice many times: stalls show as a long tail and lost time."""
    times = sorted(_slice() for _ in range(slices))
    median = times[len(times) // 2]
    return {
        "machine": {
            "slice_p50_ms": round(median * 1e3, 3),
            "slice_p99_ms": round(times[int(slices * 0.99) - 1] * 1e3, 2),
            "time_lost_to_stalls": f"{1 - median * slices / sum(times):.0%}",
        }
    }
