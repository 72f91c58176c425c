#!/usr/bin/env python3
"""Writes the machine target's seeds: a few byte strings in the target's
input encoding (see fuzz_targets/machine.rs), each a small workload that
reaches one part of the engine. Run from fuzz/: python3 seeds/machine.py"""
import os

def setup(frames=48, pagefile=32, cluster=(3, 3), both=0, policy=0, seed=1,
          nt31=0, nodes=1, bad=(), hard=1, writer=(4, 16, 7, 8), procs=((1, 8, 1),), file_pages=16):
    b = [frames - 16, pagefile, cluster[0], cluster[1], both, policy, seed, nt31]
    if frames >= 32:                   # the node count is read only when two nodes fit
        b.append(nodes - 1)
    b += [len(bad), *bad, hard, *writer[:2], writer[2] - 1, writer[3], len(procs) - 1]
    for (ws_min, ws_max, hard_max) in procs:
        # ws_min and ws_max given, hard maximum as said, machine policy, node 0, no auto-commit
        b += [1, ws_min, 1, ws_max, 1 if hard_max else 2, 0, 0, 1]
    b += [file_pages - 1, 0]
    return b

def addr(slot, page):
    return [0, slot, page, 1]          # a page of slot `slot`, no sub-page offset

def size(pages):
    return [0, pages - 1]

def reserve(pid, slot, pages, commit=True, prot=0):
    return [1, pid, 1, *addr(slot, 0), *size(pages), prot, 1 if commit else 0]

def commit(pid, slot, page, pages):
    return [2, pid, *addr(slot, page), *size(pages), 0]

def decommit(pid, slot, page, pages):
    return [3, pid, *addr(slot, page), *size(pages)]

def release(pid, slot):
    return [4, pid, *addr(slot, 0)]

def map_view(pid, slot, file=0, writable=True):
    return [6, pid, file, 1, 0, 1, 1, *addr(slot, 0), 0 if writable else 1]

def touch(pid, slot, page, count, kind=1):
    return [12, pid, *addr(slot, page), count - 1, kind, 1, 1]

def trim(pid):
    return [8, pid, 0]

def write_modified():
    return [9, 0]

def advance(ticks):
    return [10, ticks - 1]

def set_ws(pid, lo, hi):
    return [7, pid, 1, lo, hi]

def exit_(pid):
    return [11, pid]

def setup_large(**kw):
    """A 1024-frame machine (two 2 MiB regions): the largest small size
    (128 frames) followed by the bytes that ask for a large machine."""
    b = setup(frames=128, **kw)
    return [b[0], 1, 0] + b[1:]

def grant():
    return [18, 1]

def logon():
    return [18, 0]

def new_process():
    # no ws_min or ws_max, machine defaults, node 0, no auto-commit
    return [0, 0, 0, 0, 0, 0, 1]

def adjust(pid):
    return [19, pid, 1]

def allocate_large(pid, pages2m=1, commit=True):
    # system-chosen address, 2 MiB x pages2m, PAGE_READWRITE
    return [16, pid, 0, 1, pages2m - 1, 0, 1 if commit else 0]

SEEDS = {
    "large-pages-after-logon": setup_large() + allocate_large(0) + adjust(0) + grant() + logon()
        + new_process() + allocate_large(1) + adjust(1) + allocate_large(1) + allocate_large(1, 2)
        + reserve(0, 0, 16) + touch(0, 0, 0, 16) + exit_(1) + allocate_large(0),
    "demand-zero-touch": setup() + reserve(0, 0, 16) + touch(0, 0, 0, 16) + touch(0, 0, 0, 8, kind=0),
    "soft-hard-pressure": setup(frames=24, pagefile=64, procs=((1, 39, 0),)) + reserve(0, 0, 32)
        + touch(0, 0, 0, 16) + touch(0, 0, 16, 16) + write_modified() + touch(0, 0, 0, 16, kind=0)
        + advance(3) + touch(0, 0, 0, 16, kind=0),
    "commit-decommit-release": setup() + reserve(0, 1, 24, commit=False) + commit(0, 1, 2, 8)
        + touch(0, 1, 0, 12) + decommit(0, 1, 4, 4) + touch(0, 1, 0, 12) + release(0, 1) + touch(0, 1, 0, 4),
    "mapped-file": setup(frames=32) + map_view(0, 2) + touch(0, 2, 0, 16, kind=0) + touch(0, 2, 0, 16)
        + trim(0) + touch(0, 2, 0, 16, kind=0) + release(0, 2),
    "two-processes-numa": setup(frames=64, nodes=2, bad=(3, 40), procs=((1, 6, 1), (2, 10, 0)), policy=2)
        + reserve(0, 0, 16) + reserve(1, 0, 16) + touch(0, 0, 0, 16) + touch(1, 0, 0, 16)
        + set_ws(1, 0, 0) + touch(1, 0, 0, 16, kind=0) + exit_(0) + touch(1, 0, 0, 16),
    "nt31-opt-clusters": setup(nt31=1, policy=3, cluster=(7, 7), both=1) + reserve(0, 3, 32)
        + touch(0, 3, 0, 16) + touch(0, 3, 16, 16) + write_modified() + touch(0, 3, 0, 16, kind=0),
}

os.makedirs("corpus/machine", exist_ok=True)
for name, data in SEEDS.items():
    with open(f"corpus/machine/{name}", "wb") as f:
        f.write(bytes(x & 0xFF for x in data))
