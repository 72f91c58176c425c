"""FIFO over an oracleGeneral trace with libCacheSim (PyPI `libcachesim`).

    python3 scripts/libcachesim_fifo.py TRACE FRAMES RUNS [HASHPOWER ...]

Every object in a pagelab oracleGeneral trace is a 4096-byte page, so a
cache of FRAMES * 4096 bytes holds exactly FRAMES pages. Each run opens the
reader, builds the cache and replays the whole trace inside the timed
region (as `pagelab replay --timing` builds its machine and reads the file
inside its own). Without HASHPOWER the cache is `libcachesim.FIFO(size)`
with the library's defaults (an initial hash table of 2^24 buckets); with
them, one configuration per initial table size. Prints one JSON object per
line: version, hashpower, references, misses, the best run's seconds and
references per second.
"""

import json
import sys
import time

import libcachesim as lcs

PAGE = 4096


def measure(path, frames, runs, hashpower):
    best = None
    misses = None
    for _ in range(runs):
        start = time.perf_counter()
        reader = lcs.TraceReader(path, lcs.TraceType.ORACLE_GENERAL_TRACE)
        if hashpower is None:
            cache = lcs.FIFO(frames * PAGE)
        else:
            cache = lcs.FIFO(frames * PAGE, hashpower=hashpower)
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
    return {
        "version": getattr(lcs, "__version__", "unknown"),
        "hashpower": "default" if hashpower is None else hashpower,
        "references": n,
        "misses": misses,
        "seconds": best,
        "refs_per_second": n / best,
    }


def main():
    path, frames, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    powers = [int(h) for h in sys.argv[4:]] or [None]
    for hashpower in powers:
        print(json.dumps(measure(path, frames, runs, hashpower)), flush=True)


if __name__ == "__main__":
    main()
