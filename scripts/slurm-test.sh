#!/usr/bin/env bash
# A real Slurm cluster of one node, on this machine, runs a small sweep
# through `noprop slurm --submit`: a 4-task job array of backprop and
# NoProp-DT runs on real MNIST and the merge job after it. One task is
# cancelled, so the first merge is incomplete; submitting again must submit
# only that shard, and then the merged study.db must hold the same accuracy
# matrices (per configuration hash and seed, cell by cell) as one process
# that runs the same sweep into its own database.
#
# Needs root: installs Debian's slurmctld, slurmd, slurm-client and munge
# when missing, and starts munged, slurmctld and slurmd with their key,
# configuration, state and logs in a temporary folder, on free ports; they
# are stopped and the folder removed at the end, whatever happens.
# Prints PASS or FAIL as its last line (exit status 0 or 1); without root,
# or when the packages are missing and apt-get cannot install them, one
# line saying why it is skipped (exit status 77).
#
#   scripts/slurm-test.sh
#   KEEP=1 scripts/slurm-test.sh     # keep the temporary folder to look at
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

say() { echo "slurm-test: $*"; }
fail() {
  say "$*"
  echo "FAIL"
  exit 1
}

skip() {
  say "skipped: $*"
  exit 77
}

[ "$(id -u)" = 0 ] || skip "needs root, to start munged, slurmctld and slurmd"
missing=()
for p in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge; do
  command -v "${p%%:*}" >/dev/null 2>&1 || missing+=("${p#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } ||
    skip "${missing[*]} not installed, and apt-get cannot install them"
fi

make -s build
noprop=$repo/bin/noprop

tmp=$(mktemp -d /tmp/noprop-slurm-test.XXXXXX)
chmod 755 "$tmp"
ref=
cleanup() {
  [ -z "$ref" ] || kill "$ref" 2>/dev/null || true
  for f in "$tmp"/run/slurmd.pid "$tmp"/run/slurmctld.pid "$tmp"/munge/munged.pid; do
    [ -s "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [ -n "${KEEP:-}" ]; then
    say "kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# munge: its own key and socket.
mkdir -p "$tmp"/{munge,run,log,state,spool}
chmod 700 "$tmp/munge"
dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$tmp/munge/munge.key"
munged --force --key-file="$tmp/munge/munge.key" --socket="$tmp/munge/socket" \
  --pid-file="$tmp/munge/munged.pid" --log-file="$tmp/munge/munged.log" --seed-file="$tmp/munge/seed" ||
  fail "munged did not start: $(tail -n 3 "$tmp/munge/munged.log" 2>/dev/null)"
chmod 711 "$tmp/munge"

# Two free TCP ports for slurmctld and slurmd.
ports=()
for p in $(seq $((20000 + RANDOM % 20000)) 45000); do
  [ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ] && ports+=("$p")
  [ ${#ports[@]} -eq 2 ] && break
done
[ ${#ports[@]} -eq 2 ] || fail "no free TCP ports"

host=$(hostname -s)
node=$(slurmd -C | head -n 1) # NodeName=... CPUs=... RealMemory=...
cpus=$(nproc)
export SLURM_CONF=$tmp/slurm.conf
cat >"$SLURM_CONF" <<EOF
ClusterName=noproptest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=${ports[0]}
SlurmdPort=${ports[1]}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge/socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=600
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/run/slurmctld.pid
SlurmdPidFile=$tmp/run/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
PlugStackConfig=$tmp/plugstack.conf
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
: >"$tmp/plugstack.conf"
slurmctld -f "$SLURM_CONF" || fail "slurmctld did not start: $(tail -n 3 "$tmp/log/slurmctld.log")"
slurmd -f "$SLURM_CONF" || fail "slurmd did not start: $(tail -n 3 "$tmp/log/slurmd.log")"
for _ in $(seq 60); do
  state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 0.5
done
[ "$state" = idle ] || fail "node $host is '$state', not idle: $(tail -n 3 "$tmp/log/slurmctld.log")"
say "one-node cluster up: $node, slurmctld on port ${ports[0]}, slurmd on ${ports[1]}"

# The sweep: 2 methods x 2 scenarios x 2 seeds = 8 runs on split MNIST.
mkdir -p "$tmp/work"
cd "$tmp/work"
cat >sweep.yaml <<'EOF'
methods:
  - name: backprop
    settings: {iterations: 30}
  - name: noprop-dt
    preset: quick
    settings: {iterations: 5, timesteps: 3}
datasets: [mnist]
streams: [split]
scenarios: [task, class]
seeds: 2
first_seed: 5
inference_runs: 2
EOF
study=$tmp/work/study
opts=(--shards 4 --out "$study" --cpus 1 --mem 2G --time 10 --partition test --max-running 2)

"$noprop" slurm sweep.yaml "${opts[@]}" >plan.txt
cat plan.txt
shards=$(sed -n 's/.* to run, in shards \([0-9,-]*\)$/\1/p' plan.txt)
[ -n "$shards" ] || fail "noprop slurm listed no shards to run"
victim=${shards##*[-,]}

# One process runs the same sweep alone, beside the cluster.
"$noprop" run --sweep sweep.yaml --db ref.db >ref.log 2>&1 &
ref=$!

"$noprop" slurm sweep.yaml "${opts[@]}" --submit | tee submit1.txt
array=$(sed -n 's/^submitted job array \([0-9]*\) .* and merge job \([0-9]*\) after it$/\1/p' submit1.txt)
merge=$(sed -n 's/^submitted job array \([0-9]*\) .* and merge job \([0-9]*\) after it$/\2/p' submit1.txt)
[ -n "$array" ] && [ -n "$merge" ] || fail "noprop slurm --submit printed no job IDs"
# A failure: the last shard's task is cancelled (--max-running 2 keeps it
# pending while the first two run).
scancel "${array}_$victim"
say "cancelled task ${array}_$victim"

# wait_job ID: wait until Slurm reports the job ended, and print its state.
wait_job() {
  local s=
  for _ in $(seq 300); do
    s=$(scontrol show job "$1" -o 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
    case $s in COMPLETED | FAILED | CANCELLED | TIMEOUT | OUT_OF_MEMORY | NODE_FAIL) break ;; esac
    sleep 0.5
  done
  echo "$s"
}
state=$(wait_job "$merge")
say "merge job $merge: $state"
[ "$state" = COMPLETED ] || fail "merge job $merge ended $state: $(cat "$study"/logs/merge."$merge".out 2>/dev/null)"
cat "$study/logs/merge.$merge.out"
grep -q "not every run is done" "$study/logs/merge.$merge.out" ||
  fail "the first merge job does not report the cancelled shard's runs as missing"

# Submitting again submits the cancelled shard alone.
"$noprop" slurm sweep.yaml "${opts[@]}" --submit | tee submit2.txt
grep -q "^submitted job array [0-9]* (shards $victim of 4) and merge job" submit2.txt ||
  fail "submitting again did not submit shard $victim alone"
merge2=$(sed -n 's/^submitted job array \([0-9]*\) .* and merge job \([0-9]*\) after it$/\2/p' submit2.txt)
state=$(wait_job "$merge2")
[ "$state" = COMPLETED ] || fail "merge job $merge2 ended $state: $(cat "$study"/logs/merge."$merge2".out 2>/dev/null)"
cat "$study/logs/merge.$merge2.out"
"$noprop" slurm sweep.yaml "${opts[@]}" --submit | tee submit3.txt
grep -q "nothing to submit" submit3.txt || fail "a third submission, with every run done, submitted something"

wait "$ref" || fail "the single-process run failed: $(tail -n 5 ref.log)"

# The merged store against the single process: every cell of every matrix,
# keyed by configuration hash and seed (run IDs differ).
# The run ID and the scoring time of the cell ("seconds") differ from run to
# run; the columns are found by name in the header.
cells() {
  "$noprop" export --db "$1" --format csv --what cells |
    awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) drop[i] = ($i == "run_id" || $i == "seconds") }
      { out = ""; for (i = 1; i <= NF; i++) if (!drop[i]) out = out (out == "" ? "" : OFS) $i; print out }' |
    sort
}
cells ref.db >ref.csv
cells "$study/study.db" >study.csv
runs_ref=$("$noprop" export --db ref.db --what runs --format csv | tail -n +2 | wc -l)
runs_study=$("$noprop" export --db "$study/study.db" --what runs --format csv | tail -n +2 | wc -l)
say "done runs: $runs_study in study.db, $runs_ref in the single process; cells: $(($(wc -l <study.csv) - 1)) and $(($(wc -l <ref.csv) - 1))"
[ "$runs_ref" = 8 ] && [ "$runs_study" = 8 ] || fail "want 8 done runs in each"
if ! diff ref.csv study.csv >cells.diff; then
  head -n 20 cells.diff
  fail "the merged study's matrices differ from the single process's"
fi
say "every accuracy matrix of study.db equals the single process's, cell by cell"
for f in "$study"/shard-*.db; do
  [ ! -e "$f-wal" ] || fail "$f has a -wal: not in the rollback journal"
done
echo "PASS"
