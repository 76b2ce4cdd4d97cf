#!/usr/bin/env bash
# The forgetting study: does NoProp forget less? Runs the committed sweep
# files of scripts/sweeps/study/: NoProp-DT, backprop-dt and backprop on
# every stream, then the other nine rules on the MNIST-like ones; every
# scenario, fine-tuned, at the joint bound and with replay, 5 seeds,
# learning rates chosen on a validation hold-out, NoProp-DT and backprop-dt
# with the probe. It runs them in the order that answers most first, then
# prints the table resolved by validation.
#
# On one machine it runs WORKERS processes (default: one per core) with
# GOMAXPROCS=1 each, which is about 2.3x the throughput of processes that
# split their small products over every core (docs/performance.md); they
# share the database and its claims, so no run is done twice. Finished runs
# are skipped and a killed run goes on from its checkpoint: the same
# command resumes the study. With SLURM set, each file becomes a job array
# (noprop slurm; SLURM holds its flags) and nothing runs here.
#
#   scripts/forgetting-study.sh                         # every file, study.db
#   FILES="split-mnist" WORKERS=2 DB=mnist.db scripts/forgetting-study.sh
#   SLURM="--shards 16 --partition cpu --time 8:00:00 --cpus 1 --submit" scripts/forgetting-study.sh
#   ESTIMATE_FROM=results.db scripts/forgetting-study.sh  # estimates also from an earlier database's runs
#   FROM_EXPORTS=0 scripts/forgetting-study.sh          # a new database starts empty
#
# A database that does not exist yet starts from the runs published in
# docs/data/forgetting-*.csv (noprop import), so those are not run again
# (their probe rows are those of the published figures only): locally DB,
# with SLURM each file's runs/study/FILE/study.db, which its array's tasks
# read and its merge job writes. FROM_EXPORTS=0 runs every cell afresh.
#
# The cost of each file: bin/noprop plan scripts/sweeps/study/FILE.yaml --db study.db
# (--estimate-from OTHER.db to estimate from runs of the same budget there)
set -euo pipefail
cd "$(dirname "$0")/.."

DB=${DB:-study.db}
WORKERS=${WORKERS:-$(nproc)}
FILES=${FILES:-split-mnist split-fashion permuted-mnist split-cifar10 split-cifar100
  split-mnist-replay split-fashion-replay permuted-mnist-replay split-cifar10-replay split-cifar100-replay
  split-mnist-controls
  split-mnist-others split-fashion-others permuted-mnist-others split-mnist-others-replay split-fashion-others-replay permuted-mnist-others-replay}
for f in $FILES; do
  [ -f "scripts/sweeps/study/$f.yaml" ] || { echo "forgetting-study: no scripts/sweeps/study/$f.yaml (FILES names files of that folder without .yaml)" >&2; exit 2; }
done
case $WORKERS in '' | *[!0-9]* | 0) echo "forgetting-study: WORKERS=$WORKERS: want a number of processes, 1 or more" >&2; exit 2 ;; esac
case ${FROM_EXPORTS:=1} in 0 | 1) ;; *) echo "forgetting-study: FROM_EXPORTS=$FROM_EXPORTS: want 1 (a new database starts from docs/data's exports) or 0 (it starts empty)" >&2; exit 2 ;; esac

exports=(docs/data/forgetting-runs.csv docs/data/forgetting-cells.csv docs/data/forgetting-metrics.csv docs/data/forgetting-probe-*.csv)
make build
if [ -n "${SLURM:-}" ]; then
  for f in $FILES; do
    out=runs/study/$f
    # The array's tasks skip the runs done in $out/study.db, which the
    # merge job writes on the shared file system: the rollback journal.
    if [ "$FROM_EXPORTS" = 1 ] && [ ! -e "$out/study.db" ]; then
      bin/noprop import --journal rollback "$out/study.db" "${exports[@]}"
    fi
    echo "$f: $(bin/noprop plan "scripts/sweeps/study/$f.yaml" --db "$out/study.db" ${ESTIMATE_FROM:+--estimate-from "$ESTIMATE_FROM"} | tail -n 1)"
    # shellcheck disable=SC2086 # SLURM is a list of flags
    bin/noprop slurm "scripts/sweeps/study/$f.yaml" --out "$out" $SLURM
  done
  exit 0
fi
if [ "$FROM_EXPORTS" = 1 ] && [ ! -e "$DB" ]; then
  bin/noprop import "$DB" "${exports[@]}"
fi
for f in $FILES; do
  echo "$f: $(bin/noprop plan "scripts/sweeps/study/$f.yaml" --db "$DB" ${ESTIMATE_FROM:+--estimate-from "$ESTIMATE_FROM"} | tail -n 1)"
done
# Stopped (kill, Ctrl-C), the script stops its workers the same way and
# waits while they save their checkpoints, so none is left running alone.
pids=()
trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait; exit 143' TERM INT
for f in $FILES; do
  pids=()
  for ((w = 0; w < WORKERS; w++)); do
    GOMAXPROCS=1 bin/noprop run --sweep "scripts/sweeps/study/$f.yaml" --db "$DB" &
    pids+=($!)
  done
  rc=0
  for p in "${pids[@]}"; do wait "$p" || rc=$?; done
  [ "$rc" = 0 ] || exit "$rc"
done
echo
bin/noprop table --db "$DB" --select-by val-acc
