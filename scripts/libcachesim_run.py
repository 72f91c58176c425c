"""One policy over a trace with libCacheSim (PyPI `libcachesim`).

    python3 scripts/libcachesim_run.py TRACE KIND POLICY FRAMES RUNS [HASHPOWER ...]

KIND is `oracle-general` (24-byte records whose objects pagelab writes as
4096-byte pages, so a cache of FRAMES * 4096 bytes holds FRAMES pages) or
`text` (one page number a line, libCacheSim's plain-text reader, whose
objects are one byte each, so a cache of FRAMES bytes holds FRAMES pages).
POLICY is fifo, lru, clock, random or opt (libCacheSim's Belady, which
reads the oracleGeneral next-access field). Each run opens the reader,
builds the cache and replays the whole trace inside the timed region (as
`pagelab replay` builds its machine and reads the file inside its own).
Without HASHPOWER the cache has the library's defaults (an initial hash
table of 2^24 buckets); with them, one configuration per initial table
size. Prints one JSON object per line: version, policy, hashpower,
references, misses, and the best run's wall and CPU seconds.
"""

import json
import sys
import time

import libcachesim as lcs

PAGE = 4096
POLICIES = {"fifo": "FIFO", "lru": "LRU", "clock": "Clock", "random": "Random", "opt": "Belady"}
KINDS = {"oracle-general": ("ORACLE_GENERAL_TRACE", PAGE), "text": ("PLAIN_TXT_TRACE", 1)}


def measure(path, kind, policy, frames, runs, hashpower):
    trace_type, unit = KINDS[kind]
    cls = getattr(lcs, POLICIES[policy])
    best_wall = best_cpu = None
    misses = None
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        reader = lcs.TraceReader(path, getattr(lcs.TraceType, trace_type))
        if hashpower is None:
            cache = cls(frames * unit)
        else:
            cache = cls(frames * unit, hashpower=hashpower)
        miss_ratio, _ = cache.process_trace(reader)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        n = reader.get_num_of_req()
        # process_trace returns a ratio; misses / n round-trips exactly
        # through a double for any n below 2^52.
        m = round(miss_ratio * n)
        if misses is not None and m != misses and policy != "random":
            sys.exit(f"libcachesim gave {m} misses after {misses}")
        misses = m
        best_wall = wall if best_wall is None else min(best_wall, wall)
        best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
    return {
        "version": getattr(lcs, "__version__", "unknown"),
        "policy": policy,
        "hashpower": "default" if hashpower is None else hashpower,
        "references": n,
        "misses": misses,
        "wall_seconds": best_wall,
        "cpu_seconds": best_cpu,
    }


def main():
    path, kind, policy = sys.argv[1], sys.argv[2], sys.argv[3]
    frames, runs = int(sys.argv[4]), int(sys.argv[5])
    powers = [int(h) for h in sys.argv[6:]] or [None]
    for hashpower in powers:
        print(json.dumps(measure(path, kind, policy, frames, runs, hashpower)), flush=True)


if __name__ == "__main__":
    main()
