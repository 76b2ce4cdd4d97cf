#!/usr/bin/env bash
# The NoProp paper's Table 1 (Li, Teh, Pascanu 2025), reproduced: every row
# the catalog has (NoProp-DT, -CT and -FM with one-hot, learned and
# prototype embeddings; backprop-dt; the Adjoint; the backprop-free
# baselines the paper quotes) on MNIST, CIFAR-10 (the JPEG copy) and
# CIFAR-100, then one table: ours (mean ± SE over seeds × inference runs),
# the paper's, the difference in standard errors, the budget, and peak
# training memory beside the paper's Table 3.
#
#   scripts/reproduce-paper.sh BUDGET=quick     # about an hour on 2 cores: quick presets, 1 seed
#   scripts/reproduce-paper.sh BUDGET=paper     # the paper's epochs, 3 seeds × 5 inference runs (weeks here)
#   DB=paper.db DATASETS="mnist" scripts/reproduce-paper.sh BUDGET=paper   # one dataset's file only
#
# The runs come from committed sweep files (scripts/sweeps/paper-*.yaml):
# finished runs are skipped and a killed run goes on from its last
# checkpoint, so the same command resumes; on a cluster, run each file as a
# Slurm array (`bin/noprop slurm scripts/sweeps/paper-cifar100.yaml --shards
# 16 --submit`) and print the table from the merged database.
set -euo pipefail
cd "$(dirname "$0")/.."

for arg in "$@"; do
  case $arg in
  BUDGET=* | DB=* | DATASETS=*) export "${arg?}" ;;
  *) echo "reproduce-paper: unknown argument $arg (want BUDGET=quick|paper, DB=FILE, DATASETS=\"mnist cifar10 cifar100\")" >&2; exit 2 ;;
  esac
done
BUDGET=${BUDGET:-quick}
DB=${DB:-paper-$BUDGET.db}
DATASETS=${DATASETS:-mnist cifar10 cifar100}

case $BUDGET in
quick) files=(scripts/sweeps/paper-quick.yaml scripts/sweeps/paper-quick-baselines.yaml) ;;
paper)
  files=()
  for ds in $DATASETS; do files+=("scripts/sweeps/paper-$ds.yaml"); done
  case " $DATASETS " in *" mnist "*) files+=(scripts/sweeps/paper-baselines.yaml) ;; esac
  ;;
*) echo "reproduce-paper: BUDGET=$BUDGET: want quick or paper" >&2; exit 2 ;;
esac

make build
for f in "${files[@]}"; do
  bin/noprop plan "$f" --db "$DB" | tail -n 1
done
for f in "${files[@]}"; do
  bin/noprop run --sweep "$f" --db "$DB"
done
echo
echo "NoProp's Table 1 beside ours ($BUDGET budget, $DB):"
bin/noprop table --paper --db "$DB"
