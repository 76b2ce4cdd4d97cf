#!/usr/bin/env bash
# The forgetting study: does NoProp forget less than back-propagation?
#
# Runs every method on split MNIST and split Fashion-MNIST in the task-,
# domain- and class-incremental scenarios over several seeds, then prints the
# comparison table. Finished runs are skipped, so an interrupted study resumes
# when started again; several machines can each run a share of the seeds into
# their own database (SEED=first seed, SEEDS=how many).
#
#   scripts/forgetting-study.sh                  # 5 seeds, results.db
#   SEEDS=3 DB=study.db DATASETS=mnist scripts/forgetting-study.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SEEDS=${SEEDS:-5}
SEED=${SEED:-1}
DB=${DB:-results.db}
DATASETS=${DATASETS:-mnist fashion-mnist}
SCENARIOS=${SCENARIOS:-task,domain,class}
# Backprop: the standard split-MNIST protocol (2000 iterations per task).
# NoProp-DT: the mlp encoder; every block makes 2000 updates per task too, so
# each block sees as much data as the backprop network does.
METHODS=${METHODS:-backprop,noprop-dt}
SETTINGS=(--set noprop-dt.encoder=mlp --set noprop-dt.iterations=2000)

make build
for ds in $DATASETS; do
  bin/noprop run --db "$DB" --method "$METHODS" "${SETTINGS[@]}" \
    --dataset "$ds" --stream split --tasks 5 --scenario "$SCENARIOS" \
    --seeds "$SEEDS" --seed "$SEED"
done
echo
bin/noprop table --db "$DB" --memory
