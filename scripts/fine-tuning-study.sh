#!/usr/bin/env bash
# The first forgetting study, fine-tuning only (docs/results.md): does NoProp
# forget less? The whole study, with replay, the bounds and validation, is
# scripts/forgetting-study.sh.
#
# Runs back-propagation, NoProp-DT and NoProp-DT's structural twin
# backprop-dt (the same blocks, trained end to end) on split MNIST and split
# Fashion-MNIST in the task-, domain- and class-incremental scenarios over
# several seeds, with matched budgets, then prints the comparison table.
# Finished runs are skipped, so an interrupted study resumes when started
# again; several machines can each run a share of the seeds into their own
# database (SEED=first seed, SEEDS=how many) and `noprop merge` them.
#
# Budgets (ITERS updates of every parameter per task, 2000 by default, the
# standard split-MNIST protocol of van de Ven & Tolias):
#   backprop     ITERS minibatch steps of the whole MLP per task;
#   noprop-dt    ITERS steps of every block per task (each block is updated
#                ITERS times; the head and a learned embedding once per block
#                step, as Algorithm 1 does);
#   backprop-dt  ITERS steps of the whole chain per task (every block is
#                updated ITERS times).
# ENCODER picks NoProp's image path: mlp (fast) or conv (the paper's block).
#
#   scripts/fine-tuning-study.sh                  # 5 seeds, mnist and fashion-mnist, mlp, results.db
#   SEEDS=3 DB=study.db DATASETS=mnist scripts/fine-tuning-study.sh
#   ENCODER=conv ITERS=200 METHODS=noprop-dt,backprop-dt scripts/fine-tuning-study.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SEEDS=${SEEDS:-5}
SEED=${SEED:-1}
DB=${DB:-results.db}
DATASETS=${DATASETS:-mnist fashion-mnist}
SCENARIOS=${SCENARIOS:-task,domain,class}
METHODS=${METHODS:-backprop,noprop-dt,backprop-dt}
ENCODER=${ENCODER:-mlp}
ITERS=${ITERS:-2000}
INFERENCE_RUNS=${INFERENCE_RUNS:-5}
SETTINGS=(--set backprop.iterations="$ITERS"
  --set noprop-dt.encoder="$ENCODER" --set noprop-dt.iterations="$ITERS"
  --set backprop-dt.encoder="$ENCODER" --set backprop-dt.iterations="$ITERS")

# Only the methods of the batch may be named in --set.
sets=()
for ((i = 0; i < ${#SETTINGS[@]}; i += 2)); do
  m=${SETTINGS[i+1]%%.*}
  case ",$METHODS," in *",$m,"*) sets+=("${SETTINGS[i]}" "${SETTINGS[i+1]}") ;; esac
done

make build
for ds in $DATASETS; do
  bin/noprop run --db "$DB" --method "$METHODS" "${sets[@]}" \
    --dataset "$ds" --stream split --tasks 5 --scenario "$SCENARIOS" \
    --seeds "$SEEDS" --seed "$SEED" --inference-runs "$INFERENCE_RUNS"
done
echo
bin/noprop table --db "$DB" --memory
