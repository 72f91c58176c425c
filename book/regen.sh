#!/usr/bin/env bash
# Regenerates every file under book/src/output/ from real pagelab commands,
# so that no output in the book is ever typed by hand.
#
#   book/regen.sh          rewrite book/src/output/
#   book/regen.sh --check  regenerate into a temporary directory and fail,
#                          naming the stale files, if anything differs
#                          (CI runs this)
#   book/regen.sh --live   also run `pagelab real` on this machine (Linux,
#                          as root): rewrite book/src/live/ and the recorded
#                          runs in tests/real/
#
# Every command runs from the repository root with relative paths, and
# nothing host-dependent (timings, absolute paths) reaches the output, so
# the files are the same on every machine.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

check=0
live=0
case "${1:-}" in
    --check) check=1 ;;
    --live) live=1 ;;
    "") ;;
    *)
        echo "usage: book/regen.sh [--check | --live]" >&2
        exit 2
        ;;
esac

cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/pagelab"
# The same binary by absolute path, for the sections that run in a copy.
abs_bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
committed=book/src/output

out=$(mktemp -d)
work=$(mktemp -d)
trap 'rm -rf "$out" "$work"' EXIT

# run EXPECTED_EXIT FILE ARGS...
# Runs `pagelab ARGS`, writes the command line and everything it printed
# (standard output and standard error, in order) to FILE under the output
# directory, and fails unless pagelab exited with EXPECTED_EXIT. A non-zero
# exit code is written at the end of the file, as the reader would see it.
# A shell command line the chapter shows with its output, run as written
# (in the current directory): `shell FILE 'COMMAND'`.
shell() {
    mkdir -p "$(dirname "$out/$1")"
    { echo "\$ $2"; bash -c "$2"; } >"$out/$1"
}

run() {
    local want=$1 file=$2
    shift 2
    mkdir -p "$(dirname "$out/$file")"
    local code=0
    {
        echo "\$ pagelab $*"
        "$bin" "$@" 2>&1 || code=$?
        if [ "$code" -ne 0 ]; then
            echo "[exit code $code]"
        fi
    } >"$out/$file"
    if [ "$code" -ne "$want" ]; then
        echo "book/regen.sh: \`pagelab $*\` exited with $code, expected $want" >&2
        exit 1
    fi
}

# raw FILE ARGS...: pagelab's standard output alone, into the work directory
# (for cutting into pieces), failing on a non-zero exit.
raw() {
    local file=$1
    shift
    "$bin" "$@" >"$work/$file"
}

# step_blocks SCENARIO_FILE DIR
# Writes DIR/setup.toml (everything from [machine] up to the first step)
# and DIR/step-NN.toml (the NN-th [[step]] table) for one scenario file.
step_blocks() {
    local src=$1 dir=$out/$2
    mkdir -p "$dir"
    awk -v dir="$dir" '
        function flush() {
            if (name != "") {
                # drop trailing blank lines
                while (n > 0 && buf[n] ~ /^[ \t]*$/) n--
                for (i = 1; i <= n; i++) print buf[i] > name
                close(name)
            }
            n = 0
        }
        /^\[\[step\]\]/ {
            flush(); steps++
            name = sprintf("%s/step-%02d.toml", dir, steps)
        }
        /^\[expect\]/ { flush(); name = "" }
        /^\[machine\]/ && steps == 0 && name == "" {
            name = dir "/setup.toml"; n = 0
        }
        name != "" { buf[++n] = $0 }
        END { flush() }
    ' "$src"
}

# step_events LOG DIR
# Cuts an events log (`pagelab run NAME --events`) into DIR/events-00.txt
# (the setup) and DIR/events-NN.txt (step NN). Long runs of events of the
# same shape (the same sentence with other numbers, or a repeating pair of
# sentences) keep their first two rounds and their last, with a marker
# saying how many lines were cut; a step still longer than 40 lines keeps
# its first 30 and last 6.
step_events() {
    local log=$work/$1 dir=$out/$2
    mkdir -p "$dir"
    awk -v dir="$dir" '
        function shape(s,   t) {
            t = s
            gsub(/0x[0-9a-f]+/, "#", t)
            gsub(/[0-9]+/, "#", t)
            return t
        }
        # length of the run of period p starting at line i
        function run_len(i, p,   m) {
            m = i + p
            while (m <= n && sh[m] == sh[m - p]) m++
            return m - i
        }
        function cut(k) {
            out[++o] = sprintf("  [... %d similar lines cut by book/regen.sh ...]", k)
        }
        function flush(   i, j, p, len, done) {
            if (name == "") return
            o = 0
            for (i = 1; i <= n; i++) sh[i] = shape(buf[i])
            i = 1
            while (i <= n) {
                done = 0
                for (p = 1; p <= 2 && !done; p++) {
                    len = run_len(i, p)
                    len -= len % p
                    if (len - 3 * p >= 3) {
                        for (j = i; j < i + 2 * p; j++) out[++o] = buf[j]
                        cut(len - 3 * p)
                        for (j = i + len - p; j < i + len; j++) out[++o] = buf[j]
                        i += len
                        done = 1
                    }
                }
                if (!done) out[++o] = buf[i++]
            }
            if (o > 40) {
                for (i = 1; i <= 30; i++) print out[i] > name
                printf "  [... %d more lines cut by book/regen.sh ...]\n", o - 36 > name
                for (i = o - 5; i <= o; i++) print out[i] > name
            } else {
                for (i = 1; i <= o; i++) print out[i] > name
            }
            close(name)
            n = 0
        }
        BEGIN { name = dir "/events-00.txt" }
        /^step [0-9]+ / {
            flush()
            name = sprintf("%s/events-%02d.txt", dir, $2)
        }
        /^$/ { flush(); name = ""; exit }
        name != "" { buf[++n] = $0 }
        END { flush() }
    ' "$log"
}

# rust_item FILE PATTERN OUT
# Copies one Rust item from a source file: from the first line matching
# PATTERN (with the doc comments just above it) to the closing brace at the
# same indentation.
rust_item() {
    local src=$1 pattern=$2 file=$out/$3
    mkdir -p "$(dirname "$file")"
    awk -v pat="$pattern" '
        !found && /^[ \t]*(\/\/\/|#\[)/ { doc[++d] = $0; next }
        !found && index($0, pat) {
            found = 1
            match($0, /^[ \t]*/); indent = substr($0, 1, RLENGTH)
            for (i = 1; i <= d; i++) print doc[i]
            print; next
        }
        !found { d = 0; next }
        found { print; if ($0 == indent "}") exit }
    ' "$src" >"$file"
    if [ ! -s "$file" ]; then
        echo "book/regen.sh: no item matching \"$pattern\" in $src" >&2
        exit 1
    fi
}

# lines FILE PATTERN OUT: the lines of a work file (see raw) that match an
# extended regular expression.
lines() {
    local src=$work/$1 pattern=$2 file=$out/$3
    mkdir -p "$(dirname "$file")"
    grep -E "$pattern" "$src" >"$file"
}

# brief FILE PATTERN ARGS...
# Appends to FILE the command line `pagelab ARGS` and those lines of its
# output that match PATTERN (an extended regular expression); fails on a
# non-zero exit. For tables of one line per run.
brief() {
    local file=$out/$1 pattern=$2
    shift 2
    mkdir -p "$(dirname "$file")"
    "$bin" "$@" >"$work/brief.txt"
    {
        echo "\$ pagelab $*"
        grep -E "$pattern" "$work/brief.txt"
    } >>"$file"
}

# ---------------------------------------------------------------- commands
run 0 help.txt --help
run 0 scenarios.txt scenarios

# Every built-in scenario: its report, its steps, and its events per step.
for s in tour nt31-2gb belady demand-zero soft-hard mapped-file privileges balance contiguous tlb paging-large \
    awe ramp-up buffer-pool buffer-pool-ignores-pressure numa-drift; do
    run 0 "$s/run.txt" run "$s"
    step_blocks "scenarios/$s.toml" "$s"
    raw "$s.events" run "$s" --events
    step_events "$s.events" "$s"
done

# AWE and locked pages: the ramp-up table, regular pages versus AWE.
run 0 ramp-up/table.txt ramp-up
run 0 ramp-up/table-zeroed.txt ramp-up --zeroed --threads 1,16

# The book's own scenario: one page through every kind of PTE.
run 0 pte-life/run.txt run book/src/scenarios/pte-life.toml
step_blocks book/src/scenarios/pte-life.toml pte-life
raw pte-life.events run book/src/scenarios/pte-life.toml --events
step_events pte-life.events pte-life
raw pte-life.txt run book/src/scenarios/pte-life.toml
lines pte-life.txt '^page lists' pte-life/lists.txt

# Mapped files: two views of one file.
run 0 two-views/run.txt run book/src/scenarios/two-views.toml
raw two-views.events run book/src/scenarios/two-views.toml --events
step_events two-views.events two-views

# Address spaces: the same reservation on x64.
run 1 nt31-2gb/x64.txt run nt31-2gb --set layout=x64

# Working sets: Belady's anomaly, other policies, textbook strings.
run 1 belady/lru.txt run belady --set policy=lru
run 0 belady/trace.txt run belady --trace
run 0 belady/trace-csv.txt run belady --trace=csv
for p in fifo lru clock opt random; do
    brief replay/silberschatz.txt '^faults' replay book/src/traces/silberschatz.refs --policy "$p" --frames 3
done
for p in fifo lru; do
    for f in 3 4; do
        brief replay/belady.txt '^faults' replay book/src/traces/belady.refs --policy "$p" --frames "$f"
    done
done
# The balance set manager: aging and WSClock replays of the same strings.
for f in 3 4; do
    brief replay/aging.txt '^(replay|faults)' replay book/src/traces/silberschatz.refs --policy aging --frames "$f"
    brief replay/aging.txt '^(replay|faults)' replay book/src/traces/silberschatz.refs --policy aging --refresh 2 --frames "$f"
    brief replay/aging.txt '^(replay|faults)' replay book/src/traces/silberschatz.refs --policy wsclock --tau 2 --refresh 3 --frames "$f"
done
run 2 replay/bad-refresh.txt replay book/src/traces/silberschatz.refs --frames 3 --policy fifo --refresh 5
run 2 errors/balance-goal.txt run balance --set balance.goal=10
run 0 replay/silberschatz-fifo.txt replay book/src/traces/silberschatz.refs --policy fifo --frames 3
run 0 replay/silberschatz-fifo-json.txt replay book/src/traces/silberschatz.refs --policy fifo --frames 3 --json


# Soft and hard faults under the three cost profiles.
for c in disk-1993 server-2008 nvme; do
    brief soft-hard/costs.txt '^(simulated time|fault service)' run soft-hard --set "cost=$c"
done

# NUMA residency: the drift scenario under three remote-access costs.
for r in 0 40 400; do
    brief numa-drift/costs.txt '^(remote|simulated)' run numa-drift --set "costs.remote_access=$r"
done

# Replaying traces.
run 0 replay/sample-lackey.txt replay book/src/traces/sample.lackey --format lackey --frames 4
run 0 replay/sample-lackey-json.txt replay book/src/traces/sample.lackey --format lackey --frames 4 --json
for p in fifo lru clock opt random; do
    brief replay/loop.txt '^faults' replay book/src/traces/loop.refs --policy "$p" --frames 8
done
run 0 replay/loop-small.txt replay book/src/traces/loop.refs --frames 8 --memory 64KiB
{
    echo '$ seq 0 31 | pagelab replay - --frames 8'
    seq 0 31 | "$bin" replay - --frames 8
} >"$out/replay/stdin.txt"
run 2 replay/bad-trace.txt replay book/src/broken/bad.refs --frames 3
run 2 replay/bad-lackey.txt replay book/src/broken/bad.lackey --format lackey --frames 3
run 2 replay/bad-policy.txt replay book/src/traces/silberschatz.refs --frames 3 --policy best

# Replaying reference by reference, and the quiz.
run 0 replay/trace-fifo.txt replay book/src/traces/silberschatz.refs --policy fifo --frames 3 --trace
run 0 replay/trace-clock-csv.txt replay book/src/traces/silberschatz.refs --policy clock --frames 3 --trace csv
{
    echo '$ pagelab replay book/src/traces/silberschatz.refs --policy lru --frames 3 --trace jsonl | head -5'
    "$bin" replay book/src/traces/silberschatz.refs --policy lru --frames 3 --trace jsonl | head -5
} >"$out/replay/trace-lru-jsonl.txt"
run 2 replay/bad-trace-style.txt replay book/src/traces/silberschatz.refs --frames 3 --trace xml
run 0 quiz/answers.txt quiz --answers --seed 42 --length 12 --pages 6 --frames 3
mkdir -p "$out/quiz"
{
    echo "\$ printf 'm\\n-\\nm\\n-\\nh\\nm\\n-\\nm\\n4\\n' | pagelab quiz --seed 42 --length 12 --pages 6 --frames 3"
    printf 'm\n-\nm\n-\nh\nm\n-\nm\n4\n' | "$bin" quiz --seed 42 --length 12 --pages 6 --frames 3
} >"$out/quiz/session.txt"
run 0 quiz/answers-lru.txt quiz --answers --seed 42 --length 12 --pages 6 --frames 3 --policy lru
run 0 quiz/answers-deep.txt quiz --answers --deep --seed 7 --length 16 --pages 6 --frames 3
run 2 quiz/bad-frames.txt quiz --frames 0
{
    echo "\$ printf 'm\\nz\\n-\\nm\\nz\\n-\\nh\\nm\\nz\\n-\\nm\\ns\\n1\\ns\\n' | pagelab quiz --deep --seed 7 --length 16 --pages 6 --frames 3"
    printf 'm\nz\n-\nm\nz\n-\nh\nm\nz\n-\nm\ns\n1\ns\n' | "$bin" quiz --deep --seed 7 --length 16 --pages 6 --frames 3
} >"$out/quiz/session-deep.txt"
{
    echo "\$ printf 'm\\n-\\nm\\n-\\nm\\n-\\nm\\n1\\nh\\n' | pagelab run belady --quiz"
    printf 'm\n-\nm\n-\nm\n-\nm\n1\nh\n' | "$bin" run belady --quiz
} >"$out/quiz/run-belady.txt"

# Fragmentation: buddyinfo texts, real, small and fragmented, and a broken one.
run 0 fragmentation/sample.txt fragmentation book/src/traces/buddyinfo.txt
run 0 fragmentation/small.txt fragmentation book/src/traces/buddyinfo-small.txt
run 0 fragmentation/fragmented.txt fragmentation book/src/traces/buddyinfo-fragmented.txt
run 2 fragmentation/bad.txt fragmentation book/src/broken/bad-buddyinfo.txt

# Large pages: one request on one fragmented machine under three eras.
step_blocks scenarios/eras.toml eras
for era in desperate give-up sp1; do
    run 0 "eras/run-$era.txt" run eras --set "large_page_allocator=$era"
    raw "eras-$era.events" run eras --set "large_page_allocator=$era" --events
    step_events "eras-$era.events" "eras-$era"
    run 0 "eras/fragmentation-$era.txt" fragmentation --scenario eras --set "large_page_allocator=$era"
done
run 0 tlb/replay.txt replay book/src/traces/cycle.refs --frames 4096 --tlb 64,32

# A real machine's free memory as a starting state.
step_blocks book/src/scenarios/from-buddyinfo.toml from-buddyinfo
run 0 from-buddyinfo/fragmentation.txt fragmentation --scenario book/src/scenarios/from-buddyinfo.toml --set large_page_allocator=give-up
for era in desperate give-up sp1; do
    brief from-buddyinfo/eras.txt '^(I/O|simulated|expectations)' run book/src/scenarios/from-buddyinfo.toml --set "large_page_allocator=$era"
done

# Memory pressure: the other process's faults beside each pool, pass by pass.
for s in buffer-pool buffer-pool-ignores-pressure; do
    brief buffer-pool/compare.txt '^(faults|page lists|app )' run "$s"
done

# The research workflow: a sweep, a resume, a refused change, shards and a
# merge, run in a copy of the book's files (so the output directories stay
# out of the repository) with the same relative paths a reader types.
research() {
    mkdir -p "$work/repo/book/src"
    cp -R book/src/experiments book/src/traces "$work/repo/book/src/"
    (
        cd "$work/repo"
        bin=$abs_bin
        exp=book/src/experiments/policies.toml
        run 0 research/sweep.txt sweep "$exp" --out runs/policies --quiet
        run 0 research/list.txt sweep "$exp" --list --shard 1/48
        mkdir -p "$out/research"
        {
            echo '$ head -4 runs/policies/results.csv'
            head -4 runs/policies/results.csv
            echo '$ grep ,loop, runs/policies/results.csv | grep ",0,[0-9]*,64," | cut -d, -f2-4,7-'
            grep ,loop, runs/policies/results.csv | grep ",0,[0-9]*,64," | cut -d, -f2-4,7-
        } >"$out/research/results.txt"
        {
            echo '$ head -2 runs/policies/results.jsonl'
            head -2 runs/policies/results.jsonl
        } >"$out/research/results-jsonl.txt"
        run 0 research/again.txt sweep "$exp" --out runs/policies --quiet
        sed -i 's/frames = \[4, 8, 16, 64, 256, 1024\]/frames = [4, 8, 16, 64, 256, 2048]/' "$exp"
        run 2 research/changed.txt sweep "$exp" --out runs/policies --quiet
        cp "$root_dir/book/src/experiments/policies.toml" "$exp"
        run 0 research/shard-1.txt sweep "$exp" --shard 1/2 --out runs/shard-1 --quiet
        run 0 research/shard-2.txt sweep "$exp" --shard 2/2 --out runs/shard-2 --quiet
        run 0 research/merge.txt merge runs/shard-1 runs/shard-2 --out runs/merged
        {
            echo '$ cmp runs/merged/results.csv runs/policies/results.csv && echo same'
            cmp runs/merged/results.csv runs/policies/results.csv && echo same
        } >"$out/research/cmp.txt"
        run 2 research/merge-missing.txt merge runs/shard-1 --out runs/half
        "$bin" sweep "$exp" --slurm 8 --out runs/cluster >/dev/null
        {
            echo '$ grep "^#SBATCH --array\|^exec\|^  --out" runs/cluster/sweep.sbatch'
            grep "^#SBATCH --array\|^exec\|^  --out" runs/cluster/sweep.sbatch | sed -e "s|$work/repo|\$PWD|g" -e "s|$abs_bin|pagelab|g"
        } >"$out/research/slurm.txt"
    )
}
root_dir=$PWD
research

# Miss-ratio curves: a generated trace (a seeded spec, so the same bytes
# everywhere), its curves and their plot, and Belady's string. Run in a
# copy of the book's traces, like the research workflow, so the generated
# trace and the CSV stay out of the repository.
curves() {
    mkdir -p "$work/curves/book/src" "$out/mrc"
    cp -R book/src/traces book/src/experiments "$work/curves/book/src/"
    (
        cd "$work/curves"
        bin=$abs_bin
        run 0 mrc/gen.txt gen-trace --spec-file book/src/traces/mix.toml -o mix.refs
        shell mrc/head.txt 'head -5 mix.refs'
        run 0 mrc/lru.txt mrc mix.refs --sizes 10-250/40
        run 0 mrc/cliff.txt mrc mix.refs --sizes 66-92/2
        run 0 mrc/policies.txt mrc mix.refs --policy lru,fifo,clock,aging,opt --sizes 70,90
        run 0 mrc/sweep.txt sweep book/src/experiments/curves.toml --out runs/curves --quiet
        shell mrc/sweep-results.txt 'cut -d, -f2-4,8- runs/curves/results.csv'
        run 0 mrc/plot.txt mrc mix.refs --policy lru,fifo,clock,aging,opt --sizes 5-250/5 -o mix.csv --plot mix.svg
        shell mrc/rows.txt 'grep -c , mix.csv'
        cp mix.svg "$out/mrc/mix.svg"
        run 0 mrc/stack.txt replay book/src/traces/belady.refs --policy lru --frames 5 --trace
        run 0 mrc/belady.txt mrc book/src/traces/belady.refs --policy fifo,lru,opt --sizes 1-6
        run 0 mrc/belady-csv.txt mrc book/src/traces/belady.refs --policy fifo,lru,opt --sizes 1-6 -o belady.csv
        {
            echo "\$ pagelab plot belady.csv --title \"Belady's string\" -o belady.svg"
            "$bin" plot belady.csv --title "Belady's string" -o belady.svg
        } >"$out/mrc/belady-plot.txt"
        cp belady.svg "$out/mrc/belady.svg"
        run 2 mrc/bad-policy.txt mrc mix.refs --policy lru,mru
        run 2 mrc/bad-spec.txt gen-trace --generator phases --refs 100 -o phases.refs
    )
}
curves

# Trace formats: Silberschatz's string in every format replay reads, the
# detection, and damaged traces of each kind. Run in a copy of the book's
# traces, like the research workflow, so that the damaged and generated
# files stay out of the repository.
formats() {
    mkdir -p "$work/formats/book/src" "$out/formats"
    cp -R book/src/traces book/src/broken "$work/formats/book/src/"
    (
        cd "$work/formats"
        bin=$abs_bin
        t=book/src/traces
        for f in silberschatz.refs sample.lackey silberschatz.oracleGeneral silberschatz.oracleGeneral.zst \
            requests.csv keys.txt; do
            brief formats/auto.txt '^(replay|faults)' replay "$t/$f" --frames 3
        done
        {
            echo "\$ od -A d -t x1 -w24 -N 48 $t/silberschatz.oracleGeneral"
            od -A d -t x1 -w24 -N 48 "$t/silberschatz.oracleGeneral"
        } >"$out/formats/od.txt"
        {
            echo "\$ head -4 $t/requests.csv"
            head -4 "$t/requests.csv"
        } >"$out/formats/head-csv.txt"
        {
            echo "\$ head -4 $t/requests-bare.csv"
            head -4 "$t/requests-bare.csv"
        } >"$out/formats/head-bare.txt"
        {
            echo "\$ head -4 $t/keys.txt"
            head -4 "$t/keys.txt"
        } >"$out/formats/head-keys.txt"
        run 2 formats/bare.txt replay "$t/requests-bare.csv" --frames 3
        brief formats/bare-params.txt '^(replay|faults)' replay "$t/requests-bare.csv" --frames 3 \
            --trace-params obj-id-col=3
        run 2 formats/keys-numbers.txt replay "$t/keys.txt" --format text --frames 3
        brief formats/keys-hashed.txt '^(replay|faults)' replay "$t/keys.txt" --format text \
            --trace-params obj-id-is-num=0 --frames 3
        run 2 formats/params-refs.txt replay "$t/silberschatz.refs" --trace-params obj-id-col=2 --frames 3
        run 2 formats/params-key.txt replay "$t/requests.csv" --trace-params obj-col=2 --frames 3
        run 2 formats/bad-format.txt replay "$t/requests.csv" --format xml --frames 3
        # Standard input has no name: the first bytes decide.
        for f in requests.csv sample.lackey silberschatz.oracleGeneral.zst; do
            {
                echo "\$ cat $t/$f | pagelab replay - --frames 3 | head -1"
                "$bin" replay - --frames 3 <"$t/$f" | head -1
            } >>"$out/formats/stdin.txt"
        done
        # A name and the contents that disagree: the name wins, --format
        # overrides both.
        cp "$t/sample.lackey" prog.refs
        run 2 formats/disagree.txt replay prog.refs --frames 3
        brief formats/disagree-lackey.txt '^(replay|faults)' replay prog.refs --format lackey --frames 3
        run 2 formats/zst-as-plain.txt replay "$t/silberschatz.oracleGeneral.zst" --format oracle-general --frames 3
        run 2 formats/plain-as-zst.txt replay "$t/silberschatz.oracleGeneral" --format oracle-general-zst --frames 3
        # Damaged traces: text, binary, compressed.
        run 2 formats/bad-csv.txt replay book/src/broken/bad.csv --frames 3
        head -c 470 "$t/silberschatz.oracleGeneral" >cut.oracleGeneral
        run 2 formats/cut-oracle.txt replay cut.oracleGeneral --frames 3
        head -c 100 "$t/silberschatz.oracleGeneral.zst" >cut.oracleGeneral.zst
        run 2 formats/cut-zst.txt replay cut.oracleGeneral.zst --frames 3
        # OPT: an oracleGeneral trace streams, a reference string is held.
        run 0 formats/gen-refs.txt gen-trace --pages 5000 --refs 200000 -o zipf.refs
        run 0 formats/gen-og.txt gen-trace --pages 5000 --refs 200000 --format oracle-general -o zipf.oracleGeneral
        run 2 formats/opt-held.txt replay zipf.refs --policy opt --frames 100 --host-memory 24MiB
        brief formats/opt-streams.txt '^(replay|references|faults)' replay zipf.oracleGeneral --policy opt \
            --frames 100 --host-memory 24MiB
    )
}
formats

# Writing scenarios: errors and exit codes.
for b in unknown-key wrong-op-key unknown-metric bad-size unknown-process; do
    run 2 "errors/$b.txt" check "book/src/broken/$b.toml"
done
run 0 errors/check-ok.txt check belady book/src/scenarios/pte-life.toml
run 1 errors/wrong-expectation.txt run book/src/broken/wrong-expectation.toml
run 2 errors/set-typo.txt run belady --set memroy=1MiB
run 2 errors/set-value.txt run belady --set memory=12parsecs
run 2 errors/no-such.txt run no-such-scenario
run 0 errors/seed-1.txt run book/src/scenarios/random-touch.toml --seed 1
run 0 errors/seed-2.txt run book/src/scenarios/random-touch.toml --seed 2
run 1 errors/wrong-expectation-json.txt run book/src/broken/wrong-expectation.toml --json
run 2 errors/host-memory.txt run book/src/broken/huge.toml --host-memory 2GiB

# Architecture: a few items of the code, cut out by name.
rust_item src/mm/machine.rs 'pub enum Op {' code/op.rs
rust_item src/mm/fault.rs 'pub fn access(' code/access.rs
rust_item src/mm/pfn_db.rs 'pub struct PfnEntry {' code/pfn-entry.rs
rust_item src/mm/event.rs 'pub enum EvictReason {' code/evict-reason.rs
rust_item src/mm/cost.rs 'pub fn profile(' code/cost-profile.rs

# The live runs, book/src/live/real-*.txt, are what `pagelab real` printed
# on one machine, named in each file's second line (kernel, root): frame
# numbers, the kernel's version and the free memory the simulator starts
# from differ from machine to machine, so --check does not compare their
# values. It checks their shape instead: each live file has the steps
# (number and op) of the run recorded with it in tests/real/, and neither
# has an unexpected difference. `book/regen.sh --live` rewrites both from
# this machine.
real_scenarios="real-demand-zero real-large-pages real-locked real-hard-faults real-contiguity"
live_dir=book/src/live
rows() {
    # step number and op of each row, and DIFFER where one differs unexpectedly
    sed -n -E 's/^([0-9]+) +([a-z_]+)( \([^)]*\))?: (.*)$/\1 \2 \4/p' | sed -E 's/ (agree|differ \(expected\)|not compared)$/ ok/'
}
if ((live)); then
    if [ "$(uname -s)" != Linux ] || [ "$(id -u)" -ne 0 ]; then
        echo "book/regen.sh --live: pagelab real needs Linux and root (the hugetlb pool, frame numbers in pagemap)" >&2
        exit 2
    fi
    mkdir -p "$live_dir"
    for s in $real_scenarios; do
        {
            echo "\$ sudo pagelab real $s"
            "$bin" real "$s"
        } >"$live_dir/$s.txt"
        "$bin" real "$s" --json >"tests/real/$s.json"
    done
fi
for s in $real_scenarios; do
    if [ ! -f "$live_dir/$s.txt" ]; then
        echo "book/regen.sh: $live_dir/$s.txt is missing: run book/regen.sh --live as root on Linux" >&2
        exit 1
    fi
    "$bin" real "$s" --recorded "tests/real/$s.json" | rows >"$work/recorded-rows.txt" || true
    rows <"$live_dir/$s.txt" >"$work/live-rows.txt"
    if ! diff -q "$work/recorded-rows.txt" "$work/live-rows.txt" >/dev/null || grep -q DIFFER "$work/live-rows.txt"; then
        echo "book/regen.sh: $live_dir/$s.txt has other steps than tests/real/$s.json compared today, or an unexpected difference:" >&2
        diff "$work/recorded-rows.txt" "$work/live-rows.txt" >&2 || true
        echo "Run book/regen.sh --live as root on Linux and commit $live_dir and tests/real." >&2
        exit 1
    fi
done


# Checking against a real system. The comparisons with the real Linux
# runs recorded in tests/real/ are the same on every machine: they go in
# book/src/output/ like everything else. (real-contiguity is left out: its
# simulator starts from the running machine's /proc/buddyinfo.)
for s in demand-zero large-pages locked hard-faults; do
    run 0 "real/$s.txt" real "real-$s" --recorded "tests/real/real-$s.json"
done
run 2 real/windows.txt real real-locked --backend windows
# Without root: as it is, or as nobody when this is root (setpriv).
{
    echo "\$ pagelab real real-large-pages"
    code=0
    if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
        # nobody may not reach the build directory (a checkout under /root):
        # a copy of the binary in a directory everyone can read.
        nobody_dir=$(mktemp -d)
        chmod 755 "$nobody_dir"
        cp "$bin" "$nobody_dir/pagelab"
        setpriv --reuid=65534 --regid=65534 --clear-groups "$nobody_dir/pagelab" real real-large-pages 2>&1 || code=$?
        rm -rf "$nobody_dir"
    else
        "$bin" real real-large-pages 2>&1 || code=$?
    fi
    echo "[exit code $code]"
} >"$out/real/not-root.txt"

# ---------------------------------------------------------------- compare
if ((check)); then
    stale=$(diff -rq "$committed" "$out" 2>&1 || true)
    if [ -n "$stale" ]; then
        echo "book/regen.sh --check: the book's output files are stale:" >&2
        diff -rq "$committed" "$out" 2>&1 |
            sed -e "s|$out|(regenerated)|g" -e 's/^/  /' >&2 || true
        echo "Run book/regen.sh and commit book/src/output/." >&2
        exit 1
    fi
    echo "book/regen.sh --check: every file in $committed is up to date."
else
    rm -rf "$committed"
    mkdir -p "$(dirname "$committed")"
    cp -R "$out" "$committed"
    echo "book/regen.sh: regenerated $(find "$committed" -type f | wc -l) files in $committed."
fi
