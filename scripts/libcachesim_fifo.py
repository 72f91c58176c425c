"""FIFO over an oracleGeneral trace with libCacheSim (PyPI `libcachesim`).

    python3 scripts/libcachesim_fifo.py TRACE FRAMES RUNS

Every object in a pagelab oracleGeneral trace is a 4096-byte page, so a
cache of FRAMES * 4096 bytes holds exactly FRAMES pages. Each run opens the
reader, builds the cache and replays the whole trace inside the timed
region (as `pagelab replay --timing` builds its machine and reads the file
inside its own). Prints one JSON object: version, references, misses, the
best run's seconds and references per second.
"""

import json
import sys
import time

import libcachesim as lcs

PAGE = 4096


def main():
    path, frames, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    best = None
    misses = None
    for _ in range(runs):
        start = time.perf_counter()
        reader = lcs.TraceReader(path, lcs.TraceType.ORACLE_GENERAL_TRACE)
        cache = lcs.FIFO(frames * PAGE)
        miss_ratio, _ = cache.process_trace(reader)
        elapsed = time.perf_counter() - start
        n = reader.get_num_of_req()
        # process_trace returns a ratio; misses / n round-trips exactly
        # through a double for any n below 2^52.
        m = round(miss_ratio * n)
        if misses is not None and m != misses:
            sys.exit(f"libcachesim gave {m} misses after {misses}")
        misses = m
        best = elapsed if best is None else min(best, elapsed)
    print(json.dumps({
        "version": getattr(lcs, "__version__", "unknown"),
        "references": n,
        "misses": misses,
        "seconds": best,
        "refs_per_second": n / best,
    }))


if __name__ == "__main__":
    main()
