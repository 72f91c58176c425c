#!/usr/bin/env bash
# End to end on a one-node Slurm cluster: `pagelab sweep --slurm 4` writes a
# job array, sbatch runs its four shards, `pagelab merge` combines them, and
# the result must equal the same sweep run locally, cell for cell.
#
# Starts its own munged (a private key and socket) and its own slurmctld
# and slurmd (a private slurm.conf through SLURM_CONF), all under a
# temporary directory, and stops them at the end; the system's own
# configuration is not touched. Needs root (CI is), Debian's slurm-wlm and
# munge (installed here with apt-get when missing), and a built
# target/debug/pagelab (`cargo build`). When Slurm cannot start, it says why
# and fails: it never passes without having run the array.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

fail() { echo "slurm-test: FAIL: $*" >&2; exit 1; }
say() { echo "slurm-test: $*"; }

[ "$(id -u)" = 0 ] || fail "needs root to run munged, slurmctld and slurmd"
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  say "installing slurm-wlm and munge"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge) \
    || fail "cannot install slurm-wlm and munge with apt-get"
fi
pagelab=$root/target/debug/pagelab
[ -x "$pagelab" ] || cargo build -q
[ -x "$pagelab" ] || fail "no $pagelab: cargo build failed"

work=$(mktemp -d /tmp/pagelab-slurm.XXXXXX)
chmod 755 "$work"
munge_pid=""
cleanup() {
  status=$?
  scontrol shutdown >/dev/null 2>&1 || true
  for f in slurmctld.pid slurmd.pid; do
    [ -s "$work/$f" ] && kill "$(cat "$work/$f")" 2>/dev/null || true
  done
  [ -n "$munge_pid" ] && kill "$munge_pid" 2>/dev/null || true
  if [ $status -ne 0 ]; then
    for log in munged.log slurmctld.log slurmd.log; do
      [ -s "$work/$log" ] && { echo "--- $log (last 20 lines) ---"; tail -20 "$work/$log"; }
    done
    for out in "$work"/sweep/slurm-*.out; do
      [ -s "$out" ] && { echo "--- $(basename "$out") ---"; cat "$out"; }
    done
  fi
  # The daemons may still be writing their spool as they exit.
  for _ in $(seq 50); do
    pgrep -f "$work" >/dev/null 2>&1 || break
    sleep 0.1
  done
  rm -rf "$work" 2>/dev/null || { sleep 1; rm -rf "$work" || true; }
  exit $status
}
trap cleanup EXIT

# munge: a private key, socket and daemon.
dd if=/dev/urandom of="$work/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge.key"
munged --force --key-file="$work/munge.key" --socket="$work/munge.socket" \
  --pid-file="$work/munged.pid" --log-file="$work/munged.log" --seed-file="$work/munged.seed" \
  || fail "munged did not start"
for _ in $(seq 50); do [ -s "$work/munged.pid" ] && break; sleep 0.1; done
munge_pid=$(cat "$work/munged.pid" 2>/dev/null || true)
[ -n "$munge_pid" ] || fail "munged wrote no pid file"

# Slurm: one node, this host, with every CPU.
host=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/MemTotal/ { print int($2 / 1024 / 2) }' /proc/meminfo)
mkdir -p "$work/state" "$work/spool"
export SLURM_CONF=$work/slurm.conf
cat > "$SLURM_CONF" <<EOF
ClusterName=pagelab
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$work/munge.socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=pagelab Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -i || fail "slurmctld did not start"
slurmd || fail "slurmd did not start"
up=""
for _ in $(seq 120); do
  state=$(sinfo -h -o %t 2>/dev/null || true)
  case "$state" in idle*|mix*|alloc*) up=yes; break ;; esac
  sleep 0.5
done
[ -n "$up" ] || fail "the node never became idle (sinfo says: ${state:-nothing})"
say "one-node cluster up: $host, $cpus CPUs"

# The experiment: a generated trace and a scenario, 40 cells.
mkdir -p "$work/exp"
cat > "$work/exp/cluster.toml" <<'EOF'
[experiment]
name = "cluster"
seed = 2026
repetitions = 2
[[trace]]
name = "zipf"
generate = { generator = "zipf", pages = 2000, refs = 20000, alpha = 0.9 }
[[scenario]]
name = "belady"
metrics = ["three.faults", "four.faults"]
[grid]
policy = ["fifo", "lru", "clock"]
frames = [50, 200, 800]
[grid.set]
cost = ["disk-1993", "nvme"]
EOF
"$pagelab" sweep "$work/exp/cluster.toml" --slurm 4 --out "$work/sweep"
grep -q -- '--array=1-4' "$work/sweep/sweep.sbatch" || fail "the script is not a 4-task array"
say "submitting"
sbatch --wait --quiet "$work/sweep/sweep.sbatch" || fail "the job array failed (sbatch --wait)"
for i in 1 2 3 4; do
  [ -s "$work/sweep/shard-$i/results.csv" ] || fail "shard $i wrote no results"
done
"$pagelab" merge "$work"/sweep/shard-* --out "$work/merged"
"$pagelab" sweep "$work/exp/cluster.toml" --out "$work/local" --quiet >/dev/null
cmp "$work/merged/results.csv" "$work/local/results.csv" \
  || { diff "$work/merged/results.csv" "$work/local/results.csv" | head -20; fail "the merged shards differ from the local sweep"; }
cmp "$work/merged/results.jsonl" "$work/local/results.jsonl" || fail "results.jsonl differs"
rows=$(($(wc -l < "$work/merged/results.csv") - 1))
say "ok: 4 Slurm array tasks, $rows cells merged, equal to the local sweep cell for cell"
