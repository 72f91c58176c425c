#!/usr/bin/env bash
# pagelab's full machine against libCacheSim's FIFO on the same trace.
#
#   scripts/bench-vs-libcachesim.sh
#
# Generates a Zipf trace with `pagelab gen-trace` (oracleGeneral, in a
# temporary directory), replays it with `pagelab replay --policy fifo`
# on a 64 GiB simulated machine under /usr/bin/time -v (peak RSS; with
# --no-check, since the periodic invariant audits are a check of pagelab,
# not part of the simulation), and with
# libCacheSim's FIFO holding the same number of 4 KiB pages (with its
# defaults, and with the fastest of a few initial hash-table sizes); prints
# the miss counts (they must be equal), the throughputs (best of RUNS), the
# ratios and pagelab's peak RSS. Needs python3 with `pip install libcachesim`
# and GNU time (`apt-get install time`).
#
# Settings (environment): PAGES (1000000), REFS (50000000), ALPHA (0.99),
# SEED (1), FRAMES (131072), MEMORY (64GiB), RUNS (3), HASHPOWERS (initial
# hash-table sizes libCacheSim is also tried with: "18 19 20"), KEEP_TRACE
# (unset: the trace is deleted at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
PAGES=${PAGES:-1000000}
REFS=${REFS:-50000000}
ALPHA=${ALPHA:-0.99}
SEED=${SEED:-1}
FRAMES=${FRAMES:-131072}
MEMORY=${MEMORY:-64GiB}
RUNS=${RUNS:-3}
HASHPOWERS=${HASHPOWERS:-18 19 20}

[[ -x /usr/bin/time ]] || { echo "needs GNU time: apt-get install -y time" >&2; exit 2; }
python3 -c 'import libcachesim' 2>/dev/null || { echo "needs libcachesim: pip install libcachesim" >&2; exit 2; }

cargo build --release --quiet
bin=target/release/pagelab
tmp=$(mktemp -d)
if [[ -z "${KEEP_TRACE:-}" ]]; then trap 'rm -rf "$tmp"' EXIT; fi
trace=$tmp/zipf.oracleGeneral

echo "trace: Zipf alpha $ALPHA, seed $SEED, $PAGES pages, $REFS references -> $trace"
"$bin" gen-trace --pages "$PAGES" --refs "$REFS" --alpha "$ALPHA" --seed "$SEED" \
    --format oracle-general -o "$trace"

best_rate=0
best_rss=0
for i in $(seq "$RUNS"); do
    /usr/bin/time -v -o "$tmp/time.txt" "$bin" replay "$trace" --format oracle-general --policy fifo \
        --frames "$FRAMES" --memory "$MEMORY" --no-check --json --timing >"$tmp/pagelab.json" 2>"$tmp/timing.txt"
    secs=$(sed -n 's/.* references in \([0-9.]*\) s host time.*/\1/p' "$tmp/timing.txt")
    rate=$(python3 -c "print($REFS / $secs / 1e6)")
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tmp/time.txt")
    echo "  pagelab run $i: $(cat "$tmp/timing.txt" | sed 's/^pagelab: //'), peak RSS $((rss / 1024)) MiB"
    best_rate=$(python3 -c "print(max($best_rate, $rate))")
    ((rss > best_rss)) && best_rss=$rss
done
pl_faults=$(python3 -c "import json; print(json.load(open('$tmp/pagelab.json'))['faults'])")
pl_refs=$(python3 -c "import json; print(json.load(open('$tmp/pagelab.json'))['references'])")

# libCacheSim as its Python API builds it by default, then with smaller
# initial hash tables (which it grows as needed), the fastest of which counts
# as "tuned".
python3 scripts/libcachesim_fifo.py "$trace" "$FRAMES" "$RUNS" >"$tmp/lcs-default.json"
python3 scripts/libcachesim_fifo.py "$trace" "$FRAMES" "$RUNS" $HASHPOWERS >"$tmp/lcs-tuned.json"
read -r lcs_version lcs_refs lcs_misses lcs_rate < <(python3 -c "
import json; d = json.load(open('$tmp/lcs-default.json'))
print(d['version'], d['references'], d['misses'], d['refs_per_second'] / 1e6)")
read -r tuned_hp tuned_misses tuned_rate < <(python3 -c "
import json; ds = [json.loads(l) for l in open('$tmp/lcs-tuned.json')]
assert len({d['misses'] for d in ds}) == 1, ds
d = max(ds, key=lambda d: d['refs_per_second'])
print(d['hashpower'], d['misses'], d['refs_per_second'] / 1e6)")

echo
printf '%-36s %12s %12s %10s %8s\n' "" references misses "M refs/s" ratio
printf '%-36s %12s %12s %10.2f\n' "pagelab $(git describe --always --dirty) (full NT)" "$pl_refs" "$pl_faults" "$best_rate"
printf '%-36s %12s %12s %10.2f %7.2fx\n' "libCacheSim $lcs_version FIFO, defaults" "$lcs_refs" "$lcs_misses" "$lcs_rate" \
    "$(python3 -c "print($best_rate / $lcs_rate)")"
printf '%-36s %12s %12s %10.2f %7.2fx\n' "libCacheSim FIFO, hashpower $tuned_hp" "$lcs_refs" "$tuned_misses" "$tuned_rate" \
    "$(python3 -c "print($best_rate / $tuned_rate)")"
echo "pagelab peak RSS: $((best_rss / 1024)) MiB (memory $MEMORY, $FRAMES frames)"
echo "(best of $RUNS runs each; pagelab's time includes building the machine and reading the file,"
echo " libCacheSim's opening the reader, building the cache and reading the file)"
if [[ "$pl_faults" != "$lcs_misses" || "$pl_refs" != "$lcs_refs" || "$tuned_misses" != "$lcs_misses" ]]; then
    echo "MISMATCH: pagelab and libCacheSim disagree on the references or the misses" >&2
    exit 1
fi
echo "miss counts equal: $pl_faults"
