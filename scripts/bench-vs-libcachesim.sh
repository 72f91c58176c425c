#!/usr/bin/env bash
# pagelab's full machine against libCacheSim on the same trace, policy by
# policy, from a binary and from a text file.
#
#   scripts/bench-vs-libcachesim.sh
#
# Generates a Zipf trace with `pagelab gen-trace` twice, as oracleGeneral
# and as refs text (the same references), in a temporary directory. For
# each policy it replays the trace with `pagelab replay --policy P` on a
# 64 GiB simulated machine (with --no-check: the periodic invariant audits
# are a check of pagelab, not part of the simulation), and with
# libCacheSim's cache of the same policy holding the same number of 4 KiB
# pages, with its defaults and with a smaller initial hash table
# (HASHPOWER, the fastest found: "tuned"). Prints the miss counts (equal
# for FIFO, LRU and OPT; random draws differ, and libCacheSim's CLOCK
# inserts a page with its bit clear where pagelab's sets it), CPU seconds
# (user + system, best of RUNS: the machine's other work inflates wall
# time, not CPU time; wall time is printed too) and the ratios, and
# pagelab's peak RSS. Exits 1 when FIFO, LRU or OPT disagree on a miss.
#
# Needs python3 with `pip install libcachesim` and GNU time
# (`apt-get install time`).
#
# Settings (environment): PAGES (1000000), REFS (50000000), ALPHA (0.99),
# SEED (1), FRAMES (131072), MEMORY (64GiB), RUNS (3), HASHPOWER (18),
# POLICIES ("fifo lru opt random clock"), TEXT_POLICIES ("fifo": the text
# runs are slow in libCacheSim), KEEP_TRACE (unset: the traces are deleted
# at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
PAGES=${PAGES:-1000000}
REFS=${REFS:-50000000}
ALPHA=${ALPHA:-0.99}
SEED=${SEED:-1}
FRAMES=${FRAMES:-131072}
MEMORY=${MEMORY:-64GiB}
RUNS=${RUNS:-3}
HASHPOWER=${HASHPOWER:-18}
POLICIES=${POLICIES:-fifo lru opt random clock}
TEXT_POLICIES=${TEXT_POLICIES:-fifo}

[[ -x /usr/bin/time ]] || { echo "needs GNU time: apt-get install -y time" >&2; exit 2; }
python3 -c 'import libcachesim' 2>/dev/null || { echo "needs libcachesim: pip install libcachesim" >&2; exit 2; }

cargo build --release --quiet
bin=target/release/pagelab
tmp=$(mktemp -d)
if [[ -z "${KEEP_TRACE:-}" ]]; then trap 'rm -rf "$tmp"' EXIT; else echo "traces kept in $tmp"; fi
og=$tmp/zipf.oracleGeneral
txt=$tmp/zipf.refs

echo "trace: Zipf alpha $ALPHA, seed $SEED, $PAGES pages, $REFS references, $FRAMES frames"
gen=(gen-trace --pages "$PAGES" --refs "$REFS" --alpha "$ALPHA" --seed "$SEED")
"$bin" "${gen[@]}" --format oracle-general -o "$og"
"$bin" "${gen[@]}" --format refs -o "$txt"

# pagelab_run TRACE POLICY: best CPU and wall seconds of RUNS, faults, peak RSS (KiB).
pagelab_run() {
    local best_cpu="" best_wall="" rss=0 cpu wall r
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -o "$tmp/time.txt" -f "%U %S %e %M" "$bin" replay "$1" --policy "$2" \
            --frames "$FRAMES" --memory "$MEMORY" --no-check --json >"$tmp/pagelab.json"
        read -r u s wall r <"$tmp/time.txt"
        cpu=$(python3 -c "print($u + $s)")
        best_cpu=$(python3 -c "print(min(${best_cpu:-$cpu}, $cpu))")
        best_wall=$(python3 -c "print(min(${best_wall:-$wall}, $wall))")
        ((r > rss)) && rss=$r
    done
    echo "$best_cpu $best_wall $(python3 -c "import json; print(json.load(open('$tmp/pagelab.json'))['faults'])") $rss"
}

# lcs_run TRACE KIND POLICY [HASHPOWER]: CPU and wall seconds, misses.
lcs_run() {
    python3 scripts/libcachesim_run.py "$1" "$2" "$3" "$FRAMES" "$RUNS" ${4:-} | python3 -c "
import json, sys; d = json.loads(sys.stdin.readline())
print(d['cpu_seconds'], d['wall_seconds'], d['misses'], d['version'])"
}

rate() { python3 -c "print(f'{$REFS / $1 / 1e6:.1f}')"; }
# ratio PAGELAB_SECONDS OTHER_SECONDS: how many times as fast pagelab is.
ratio() { python3 -c "print(f'{$2 / $1:.2f}x')"; }
secs() { python3 -c "print(f'{$1:.2f}')"; }

mismatch=0
printf '\n%-7s %-6s %11s %11s %11s %8s %8s  %s\n' policy input "pagelab" "lcs dflt" "lcs hp$HASHPOWER" "vs dflt" "vs hp$HASHPOWER" "misses (pagelab / libCacheSim)"
printf '%-7s %-6s %11s %11s %11s\n' "" "" "M refs/s" "M refs/s" "M refs/s"
for input in binary text; do
    if [[ $input == binary ]]; then trace=$og kind=oracle-general policies=$POLICIES; else trace=$txt kind=text policies=$TEXT_POLICIES; fi
    for p in $policies; do
        read -r pc pw pf rss < <(pagelab_run "$trace" "$p")
        read -r dc dw dm version < <(lcs_run "$trace" "$kind" "$p")
        read -r tc tw tm _ < <(lcs_run "$trace" "$kind" "$p" "$HASHPOWER")
        note=""
        if [[ $pf != "$dm" || $pf != "$tm" ]]; then
            case $p in
                random) note=" (random draws differ)" ;;
                clock) note=" (libCacheSim inserts with the bit clear)" ;;
                *) note=" MISMATCH"; mismatch=1 ;;
            esac
        fi
        printf '%-7s %-6s %11s %11s %11s %8s %8s  %s / %s%s\n' "$p" "$input" "$(rate "$pc")" "$(rate "$dc")" "$(rate "$tc")" \
            "$(ratio "$pc" "$dc")" "$(ratio "$pc" "$tc")" "$pf" "$tm" "$note"
        echo "        wall s: pagelab $(secs "$pw"), libCacheSim $(secs "$dw") / $(secs "$tw"); pagelab peak RSS $((rss / 1024)) MiB" >&2
    done
done
echo
echo "libCacheSim $version. Rates by CPU time (user + system), best of $RUNS runs each; pagelab's time"
echo "is its whole process (building the machine, reading the file), libCacheSim's opening the"
echo "reader, building the cache and replaying (not starting Python)."
if ((mismatch)); then
    echo "MISMATCH: pagelab and libCacheSim disagree on the misses of a deterministic policy" >&2
    exit 1
fi
