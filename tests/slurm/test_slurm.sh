#!/usr/bin/env bash
# A real Slurm cluster of one node on this machine (Debian's slurm-wlm and munge, config in a
# temporary folder): a 2-task job array over two zoo models through scripts/slurm/, a merge job
# that depends on it, then checks that the merged report holds every trial of the plan exactly
# once. Exit 77 (CTest: skipped, with the reason printed) only where Slurm cannot start here:
# not root. Missing Slurm or munge is a failure: scripts/setup.sh installs them.
# usage: tests/slurm/test_slurm.sh CALMA_BIN SOURCE_DIR
set -euo pipefail
calma="$(realpath "$1")"
src="$(realpath "$2")"
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIPPED: a one-node Slurm cluster needs root here (slurmd runs jobs as their user)"
  exit 77
fi
for b in munged slurmctld slurmd sbatch squeue sinfo scontrol; do
  command -v "$b" >/dev/null || { echo "FAIL: $b is missing; scripts/setup.sh installs slurm-wlm and munge"; exit 1; }
done
tmp="$(mktemp -d /tmp/calma-slurm.XXXXXX)"
pids=()
cleanup() {
  set +e
  SLURM_CONF="$tmp/slurm.conf" scancel --quiet --user=root 2>/dev/null
  for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null; done
  sleep 1
  for p in "${pids[@]+"${pids[@]}"}"; do kill -9 "$p" 2>/dev/null; done
  [ -f "$tmp/munged.pid" ] && kill "$(cat "$tmp/munged.pid")" 2>/dev/null
  if [ "${keep:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$tmp"/*.log "$tmp"/out/slurm-*.out; do [ -f "$f" ] && { echo "---- $f"; tail -n 30 "$f"; }; done
  keep=1
  exit 1
}

host="$(hostname -s)"
cpus="$(nproc)"
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
base=$(( 20000 + ($$ % 20000) ))
mkdir -p "$tmp/state" "$tmp/spool" "$tmp/out"

# munge: its own socket and files, the machine's key.
key=/etc/munge/munge.key
[ -r "$key" ] || fail "no munge key at $key (the munge package makes one)"
munged --force --socket="$tmp/munge.socket" --key-file="$key" --pid-file="$tmp/munged.pid" \
  --log-file="$tmp/munged.log" --seed-file="$tmp/munged.seed" || fail "munged did not start"

cat >"$tmp/slurm.conf" <<EOF
ClusterName=calmatest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$base
SlurmdPort=$((base + 1))
AuthType=auth/munge
AuthInfo=socket=$tmp/munge.socket
CryptoType=crypto/munge
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=calma Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$tmp/slurm.conf"
slurmctld -D -f "$SLURM_CONF" >"$tmp/slurmctld.out.log" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" -N "$host" >"$tmp/slurmd.out.log" 2>&1 &
pids+=($!)
for i in $(seq 1 60); do
  state="$(sinfo -h -o %t 2>/dev/null | head -n1 || true)"
  [ "$state" = idle ] && break
  sleep 1
done
[ "$state" = idle ] || fail "the node did not come up idle in 60 s (state: '${state:-none}')"
echo "slurm: one node '$host', $cpus CPUs, idle"

# Two shares of a plan over two zoo models, then the merge.
out="$tmp/out"
ids="$(CALMA="$calma" "$src/scripts/slurm/calma-submit.sh" 2 "$out" -- simple mlp \
  --conversions REFERENCE,ORT_CPU --repeats 1 --max-time 0.5s)" || fail "sbatch refused the jobs"
read -r array merge <<<"$ids"
echo "slurm: array job $array, merge job $merge"
for i in $(seq 1 240); do
  [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
  sleep 1
done
[ -z "$(squeue -h -o %i 2>/dev/null)" ] || fail "the jobs did not finish in 240 s: $(squeue -h 2>&1)"
[ -f "$out/merged/report.json" ] || fail "no merged report in $out/merged"

python3 - "$out/merged/report.json" "$out/shard-1/plan.json" <<'EOF' || fail "the merged report is wrong"
import json, sys
rep = json.load(open(sys.argv[1]))
plan = json.load(open(sys.argv[2]))
want = plan["trials"]
got = [t["id"] for t in rep["trials"]]
assert sorted(got) == sorted(want), "trials %s, plan %s" % (got, want)
assert len(got) == len(set(got)), "a trial twice: %s" % got
assert not rep.get("missing_trials"), rep.get("missing_trials")
shards = sorted(m["shard"] for m in rep["plan"]["merged_from"])
assert shards == [1, 2], shards
for t in rep["trials"]:
    assert t["status"] == "ok", (t["id"], t["status"], t["message"])
names = sorted(m["name"] for m in rep["per_model"])
assert names == ["mlp", "simple"], names
print("merged report: %d trials, each once, from shards %s; models %s" % (len(got), shards, names))
EOF
echo "PASS"
