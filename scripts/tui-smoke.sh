#!/usr/bin/env bash
# Smoke test of `pagelab tui` in a real terminal.
#
# tmux runs `pagelab tui tour` in a detached 100x30 session; the script
# sends keys (n n n n, p, ?, q), captures the pane after each, and checks
# that the panes are drawn, that nothing panicked, that q ends the session
# with exit code 0 and the terminal back in cooked mode. It also checks that
# a scenario that fails to load prints the `pagelab check` error and exits 2,
# that a panic inside the UI still restores the terminal, and that SIGTERM
# and SIGHUP do too (checked with stty after the kill).
#
# Uses $PAGELAB if set, else builds target/debug/pagelab. Without tmux it
# prints SKIP and exits 0.
set -euo pipefail

cd "$(dirname "$0")/.."

if ! command -v tmux >/dev/null 2>&1; then
    echo "SKIP: tmux is not installed; the TUI smoke test needs a terminal multiplexer"
    exit 0
fi

if [ -n "${PAGELAB:-}" ]; then
    BIN=$PAGELAB
else
    cargo build --quiet
    BIN=$PWD/target/debug/pagelab
fi

WORK=$(mktemp -d)
SOCKET="pagelab-smoke-$$"
SESSION=smoke
tm() { tmux -L "$SOCKET" "$@"; }
cleanup() {
    tm kill-server 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

capture() {
    tm capture-pane -p -t "$SESSION" >"$WORK/$1.txt" 2>/dev/null || true
}

# Waits up to 10 s for $2 to appear in the pane, then for the pane to stop
# changing (a frame reaches the terminal in pieces); saves the capture as $1.
wait_for() {
    local name=$1 text=$2
    for _ in $(seq 100); do
        capture "$name"
        if grep -qF -- "$text" "$WORK/$name.txt"; then
            for _ in $(seq 20); do
                sleep 0.1
                cp "$WORK/$name.txt" "$WORK/$name.prev"
                capture "$name"
                cmp -s "$WORK/$name.txt" "$WORK/$name.prev" && break
            done
            return 0
        fi
        sleep 0.1
    done
    fail "'$text' never appeared (capture $name):"
    cat "$WORK/$name.txt"
    return 1
}

expect_in() {
    local name=$1
    shift
    for text in "$@"; do
        grep -qF -- "$text" "$WORK/$name.txt" || fail "'$text' missing from capture $name"
    done
}

# The TUI runs under sh, which records its exit code and the terminal
# modes after it returns, then exits: the session ends with it.
tm new-session -d -s "$SESSION" -x 100 -y 30 \
    "'$BIN' tui tour 2>'$WORK/stderr'; echo \$? >'$WORK/rc'; stty -a >'$WORK/stty' 2>&1"

wait_for start "Physical memory" || true
expect_in start "step 0/14" "Page table: app" "Working set" "Page lists" "Counters" "Setup"

tm send-keys -t "$SESSION" n n n n
wait_for step4 "step 4/14" || true
expect_in step4 "Events of step 4: touch" "demand-zero fault" "Physical memory" "Page table: app" \
    "Working set" "Page lists" "Counters" "next victim"

tm send-keys -t "$SESSION" p
wait_for back "step 3/14" || true
expect_in back "Events of step 3: commit" "committed 16 pages"

tm send-keys -t "$SESSION" '?'
wait_for help "Keys" || true
expect_in help "next step" "previous step" "breakpoint" "quit"

tm send-keys -t "$SESSION" q
ended=no
for _ in $(seq 50); do
    if ! tm has-session -t "$SESSION" 2>/dev/null; then
        ended=yes
        break
    fi
    sleep 0.1
done
[ "$ended" = yes ] || fail "the session did not end after q"

# A trace in the TUI: Silberschatz's string under FIFO with 3 frames,
# stepped one reference at a time.
tm new-session -d -s "$SESSION" -x 100 -y 30 \
    "'$BIN' tui --trace book/src/traces/silberschatz.refs --frames 3 2>'$WORK/stderr-trace'; echo \$? >'$WORK/rc-trace'"
wait_for trace "step 0/1" || true
tm send-keys -t "$SESSION" . . . .
wait_for trace4 "reference 4 of 20" || true
expect_in trace4 "Working set" "Page lists"
tm send-keys -t "$SESSION" q
for _ in $(seq 50); do
    tm has-session -t "$SESSION" 2>/dev/null || break
    sleep 0.1
done
[ "$(cat "$WORK/rc-trace" 2>/dev/null)" = 0 ] || fail "tui --trace did not exit 0: $(cat "$WORK/stderr-trace" 2>/dev/null)"

# The quiz on a generated string: a question, answered by key, marked.
tm new-session -d -s "$SESSION" -x 80 -y 24 \
    "'$BIN' tui --quiz --seed 42 2>'$WORK/stderr-quiz'; echo \$? >'$WORK/rc-quiz'"
wait_for quiz "Will it hit" || true
expect_in quiz "Quiz: score 0 of 0" "reference 1 of 20"
tm send-keys -t "$SESSION" m z -
wait_for quiz1 "a miss (demand_zero)" || true
expect_in quiz1 "Quiz: score 3 of 3" "demand-zero fault"
tm send-keys -t "$SESSION" q
for _ in $(seq 50); do
    tm has-session -t "$SESSION" 2>/dev/null || break
    sleep 0.1
done
[ "$(cat "$WORK/rc-quiz" 2>/dev/null)" = 0 ] || fail "tui --quiz did not exit 0: $(cat "$WORK/stderr-quiz" 2>/dev/null)"

# Side by side: FIFO with 3 and 4 frames on Belady's string, to the end.
tm new-session -d -s "$SESSION" -x 80 -y 24 \
    "'$BIN' tui --compare fifo:3,fifo:4 2>'$WORK/stderr-compare'; echo \$? >'$WORK/rc-compare'"
wait_for compare "fifo, 4 frames" || true
tm send-keys -t "$SESSION" End
wait_for compare-end "Belady's anomaly" || true
expect_in compare-end "fifo, 3 frames: 9 faults" "fifo, 4 frames: 10 faults"
tm send-keys -t "$SESSION" q
for _ in $(seq 50); do
    tm has-session -t "$SESSION" 2>/dev/null || break
    sleep 0.1
done
[ "$(cat "$WORK/rc-compare" 2>/dev/null)" = 0 ] || fail "tui --compare did not exit 0: $(cat "$WORK/stderr-compare" 2>/dev/null)"

for f in "$WORK"/*.txt "$WORK/stderr" "$WORK/stderr-trace" "$WORK/stderr-quiz" "$WORK/stderr-compare"; do
    if [ -f "$f" ] && grep -qi "panicked" "$f"; then
        fail "panic text in $(basename "$f"):"
        cat "$f"
    fi
done
rc=$(cat "$WORK/rc" 2>/dev/null || echo missing)
[ "$rc" = 0 ] || fail "pagelab tui exited with $rc, expected 0"
if [ -f "$WORK/stty" ]; then
    # Raw mode clears icanon and echo; a restored terminal has both.
    tr ' ' '\n' <"$WORK/stty" | grep -qx "icanon" || fail "terminal left without icanon (raw mode): $(cat "$WORK/stty")"
    tr ' ' '\n' <"$WORK/stty" | grep -qx "echo" || fail "terminal left without echo (raw mode)"
else
    fail "no stty output after pagelab tui returned"
fi

# A panic inside the UI: the terminal is restored before the message.
tm new-session -d -s panic -x 80 -y 24 \
    "PAGELAB_TUI_TEST_PANIC=1 '$BIN' tui tour 2>'$WORK/panic-stderr'; echo \$? >'$WORK/panic-rc'; stty -a >'$WORK/panic-stty' 2>&1"
for _ in $(seq 50); do
    [ -s "$WORK/panic-stty" ] && break
    sleep 0.1
done
panic_rc=$(cat "$WORK/panic-rc" 2>/dev/null || echo missing)
[ "$panic_rc" = 101 ] || fail "the test panic exited with $panic_rc, expected 101"
grep -q "panicked" "$WORK/panic-stderr" 2>/dev/null || fail "the test panic printed no panic message"
tr ' ' '\n' <"$WORK/panic-stty" 2>/dev/null | grep -qx "icanon" || fail "a panic left the terminal in raw mode"

# SIGTERM and SIGHUP: the terminal is restored as on q, and the exit code
# says which signal ended it (128 + N).
for sig in TERM HUP; do
    tm new-session -d -s "sig$sig" -x 80 -y 24 \
        "'$BIN' tui tour 2>'$WORK/sig$sig-stderr'; echo \$? >'$WORK/sig$sig-rc'; stty -a >'$WORK/sig$sig-stty' 2>&1; sleep 30"
    pid=""
    for _ in $(seq 100); do
        tm capture-pane -p -t "sig$sig" >"$WORK/sig$sig.txt" 2>/dev/null || true
        if grep -qF "Physical memory" "$WORK/sig$sig.txt"; then
            pane=$(tm list-panes -t "sig$sig" -F '#{pane_pid}')
            pid=$(pgrep -P "$pane" -f "tui tour" || true)
            [ -n "$pid" ] && break
        fi
        sleep 0.1
    done
    if [ -z "$pid" ]; then
        fail "SIG$sig: the UI never drew its first frame"
        continue
    fi
    kill -s "$sig" "$pid"
    for _ in $(seq 50); do
        [ -s "$WORK/sig$sig-stty" ] && break
        sleep 0.1
    done
    want=$((128 + $(kill -l "$sig")))
    got=$(cat "$WORK/sig$sig-rc" 2>/dev/null || echo missing)
    [ "$got" = "$want" ] || fail "SIG$sig: pagelab tui exited with $got, expected $want"
    tr ' ' '\n' <"$WORK/sig$sig-stty" 2>/dev/null | grep -qx "icanon" || fail "SIG$sig left the terminal without icanon (raw mode)"
    tr ' ' '\n' <"$WORK/sig$sig-stty" 2>/dev/null | grep -qx "echo" || fail "SIG$sig left the terminal without echo"
    # Back on the main screen: the alternate screen's panes are gone.
    tm capture-pane -p -t "sig$sig" >"$WORK/sig$sig-after.txt" 2>/dev/null || true
    if grep -qF "Physical memory" "$WORK/sig$sig-after.txt"; then
        fail "SIG$sig left the alternate screen up"
    fi
    tm kill-session -t "sig$sig" 2>/dev/null || true
done

# A scenario that does not load: the same error as `pagelab check`, exit 2,
# and the terminal untouched.
printf '[scenario]\nname = "broken"\n[machine]\nmemory = "lots"\n' >"$WORK/broken.toml"
set +e
check_err=$("$BIN" check "$WORK/broken.toml" 2>&1 >/dev/null)
tm new-session -d -s bad -x 80 -y 24 \
    "'$BIN' tui '$WORK/broken.toml' 2>'$WORK/bad-stderr'; echo \$? >'$WORK/bad-rc'; stty -a >'$WORK/bad-stty' 2>&1"
for _ in $(seq 50); do
    [ -s "$WORK/bad-stty" ] && break
    sleep 0.1
done
set -e
bad_rc=$(cat "$WORK/bad-rc" 2>/dev/null || echo missing)
[ "$bad_rc" = 2 ] || fail "a broken scenario exited with $bad_rc, expected 2"
[ -n "$check_err" ] || fail "pagelab check printed nothing for the broken scenario"
[ "$(cat "$WORK/bad-stderr" 2>/dev/null)" = "$check_err" ] ||
    fail "tui error '$(cat "$WORK/bad-stderr" 2>/dev/null)' differs from check's '$check_err'"
tr ' ' '\n' <"$WORK/bad-stty" 2>/dev/null | grep -qx "icanon" || fail "broken scenario left the terminal in raw mode"

if [ "$failures" -gt 0 ]; then
    echo "tui-smoke: $failures failure(s)"
    exit 1
fi
echo "tui-smoke: ok (panes drawn, stepped forward and back, help shown, a quiz answered, replays side by side, quit cleanly," \
    "terminal restored after a panic, SIGTERM and SIGHUP, bad scenario exits 2)"
