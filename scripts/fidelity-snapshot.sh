#!/usr/bin/env bash
# Writes the outputs that must not change when the engine is optimised:
# every built-in scenario's JSON report and event log, and replay reports of
# synthetic traces under every policy, with plenty of memory and with so
# little that pages are repurposed, written out and read back clustered.
#
#   scripts/fidelity-snapshot.sh OUTDIR [PAGELAB]
#
# Take one snapshot before a change and one after, then `diff -r` them.
set -euo pipefail
out=${1:?usage: fidelity-snapshot.sh OUTDIR [PAGELAB]}
bin=${2:-}
if [[ -z "$bin" ]]; then
    cargo build --release --quiet
    bin=target/release/pagelab
fi
bin=$(realpath "$bin")
mkdir -p "$out"
out=$(realpath "$out")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for name in tour demand-zero belady soft-hard mapped-file nt31-2gb balance; do
    "$bin" run "$name" --json >"$out/run-$name.json" || true
    "$bin" run "$name" --events >"$out/run-$name.events" || true
done

"$bin" gen-trace --pages 5000 --refs 200000 --alpha 0.9 --seed 7 -o "$tmp/z.refs"
"$bin" gen-trace --pages 5000 --refs 200000 --alpha 0.9 --seed 7 --format oracle-general -o "$tmp/z.og"
# The same references as lackey records, every third one a store, so that
# dirty pages, the modified writer and page-file reads are exercised.
awk '{ printf "%s %x,8\n", (NR % 3 == 0 ? " S" : " L"), $1 * 4096 + 16 }' "$tmp/z.refs" >"$tmp/z.lackey"

for policy in fifo lru clock opt random; do
    "$bin" replay "$tmp/z.refs" --policy "$policy" --frames 1000 --json >"$out/replay-$policy-roomy.json"
    "$bin" replay "$tmp/z.lackey" --format lackey --policy "$policy" --frames 1000 --memory 6MiB \
        --json >"$out/replay-$policy-tight-writes.json"
    "$bin" replay "$tmp/z.og" --format oracle-general --policy "$policy" --frames 1500 --memory 8MiB \
        --cost nvme --seed 3 --json >"$out/replay-$policy-tight-og.json"
done
"$bin" replay "$tmp/z.og" --format oracle-general --policy fifo --frames 4096 --memory 1GiB \
    --json >"$out/replay-fifo-1gib.json"
(cd "$tmp" && "$bin" replay z.refs --policy clock --frames 700 >"$out/replay-clock-text.txt")
# Aging and WSClock with their refresh period and window.
for args in "aging" "aging --refresh 5000" "wsclock --tau 2000" "wsclock --tau 2000 --refresh 5000"; do
    # shellcheck disable=SC2086
    "$bin" replay "$tmp/z.lackey" --format lackey --policy $args --frames 1000 --memory 6MiB \
        --json >"$out/replay-${args// /_}-tight-writes.json"
done
echo "fidelity snapshot written to $out ($(ls "$out" | wc -l) files)"
