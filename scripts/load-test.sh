#!/usr/bin/env bash
# Load: PROCS processes (16) share one results database and run two
# overlapping sweep files (backprop with two learning rates and a narrow
# net, NoProp-DT quick; task-, domain- and class-IL; 5 seeds) on a small
# slice of real MNIST, while one process after another is killed with
# SIGKILL at random and started again, for KILL_FOR seconds. At the end,
# with every process gone, it checks the database:
#
#   - every unit (configuration hash and seed) of the two sweeps has exactly
#     one done run: no unit is missing, none is done twice (duplicates);
#   - no run is left running, failed or interrupted;
#   - no partial row is visible: every row of accuracy, inference_accuracy,
#     epochs and metrics belongs to a done run (the rows a killed run wrote
#     are deleted when its unit is taken over), and every done run has its
#     whole (T+1)xT accuracy matrix and its metrics;
#   - PRAGMA integrity_check says ok;
#   - the accuracy matrices equal, cell by cell, those of one process that
#     runs both sweeps alone into its own database.
#
# It prints the units run, kills, restarts, take-overs and duplicates, then
# PASS or FAIL. Not part of `make test`: it takes a few minutes on 2 cores.
#
#   scripts/load-test.sh
#   PROCS=8 KILL_FOR=30 scripts/load-test.sh
#   JOURNAL=rollback scripts/load-test.sh    # the journal noprop slurm uses
set -euo pipefail
cd "$(dirname "$0")/.."

PROCS=${PROCS:-16}
KILL_FOR=${KILL_FOR:-60}
JOURNAL=${JOURNAL:-wal}
TRAIN=${TRAIN:-3000}
TEST=${TEST:-1000}

say() { echo "load-test: $*"; }
fail() {
  say "$*"
  echo "FAIL"
  exit 1
}

command -v sqlite3 >/dev/null 2>&1 || {
  [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sqlite3 >/dev/null 2>&1
} || fail "needs the sqlite3 command (apt-get install sqlite3)"
make -s build
noprop=$PWD/bin/noprop

tmp=$(mktemp -d /tmp/noprop-load-test.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do
    [ "$p" = 0 ] || kill -9 "$p" 2>/dev/null || true
  done
  if [ -n "${KEEP:-}" ]; then say "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
cd "$tmp"

# The first TRAIN training and TEST test images of real MNIST, as idx files
# whose headers count just those.
mnist=$("$noprop" data where | awk '$1 == "mnist" { print $2 }')
[ -d "$mnist" ] || fail "MNIST not found: $("$noprop" data where | head -n 1)"
mkdir -p data/mnist
be32() { printf '\\x%02x' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)); }
slice() { # slice NAME COUNT HEADER_BYTES ITEM_BYTES
  local src=$mnist/$1.gz all
  all=$(mktemp)
  # gzip stops with SIGPIPE when head has read enough; the size is checked.
  { gzip -dc "$src" 2>/dev/null || true; } | head -c $(($3 + $2 * $4)) >"$all"
  [ "$(wc -c <"$all")" = $(($3 + $2 * $4)) ] || fail "$src is shorter than $2 items"
  { head -c 4 "$all"; printf "$(be32 "$2")"; tail -c +9 "$all"; } >"data/mnist/$1"
  rm -f "$all"
}
slice train-images-idx3-ubyte "$TRAIN" 16 784
slice train-labels-idx1-ubyte "$TRAIN" 8 1
slice t10k-images-idx3-ubyte "$TEST" 16 784
slice t10k-labels-idx1-ubyte "$TEST" 8 1

cat >a.yaml <<'EOF'
methods:
  - name: backprop
    settings: {iterations: 40}
    grid: {lr: [0.001, 0.003]}
  - name: noprop-dt
    preset: quick
    settings: {iterations: 4, timesteps: 2}
scenarios: [task, domain, class]
seeds: 5
inference_runs: 2
EOF
# b.yaml shares backprop with lr 0.003 in domain- and class-IL with a.yaml.
cat >b.yaml <<'EOF'
methods:
  - name: backprop
    settings: {iterations: 40, lr: 0.003}
  - name: backprop
    settings: {iterations: 40, hidden: [64]}
scenarios: [class, domain]
seeds: 5
inference_runs: 2
EOF
# plan's CSV: #,method,config,settings,stream,scenario,seed,state,estimate
# (settings may hold commas; the fields after it do not).
units() { "$noprop" plan "$1" --db /nonexistent --format csv | awk -F, '$1 ~ /^[0-9]+$/ && length($3) == 16 { print $3 "," $(NF-2) }'; }
{ units a.yaml; units b.yaml; } | sort -u >units.txt
nunits=$(wc -l <units.txt)
say "$nunits units in a.yaml and b.yaml ($(units a.yaml | wc -l) and $(units b.yaml | wc -l), some shared); $PROCS processes, $JOURNAL journal, MNIST slice of $TRAIN/$TEST images"

start() { # start SLOT: a process on a.yaml (even slots) or b.yaml (odd)
  local sweep=a.yaml
  [ $(($1 % 2)) = 0 ] || sweep=b.yaml
  "$noprop" run --sweep "$sweep" --db load.db --data data --journal "$JOURNAL" >>"log.$1" 2>&1 &
  pids[$1]=$!
}
# alive PID: the process runs (an exited one stays a zombie until waited for).
alive() {
  local s
  s=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) && [ "$s" != Z ]
}
t0=$(date +%s)
for ((i = 0; i < PROCS; i++)); do start "$i"; done
kills=0 restarts=0
end=$(($(date +%s) + KILL_FOR))
while [ "$(date +%s)" -lt "$end" ]; do
  sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.2 + 1.0 * r / 32767 }')"
  live=()
  for ((i = 0; i < PROCS; i++)); do
    alive "${pids[i]}" && live+=("$i")
  done
  [ ${#live[@]} -gt 0 ] || break
  i=${live[RANDOM % ${#live[@]}]}
  if kill -9 "${pids[i]}" 2>/dev/null; then
    wait "${pids[i]}" 2>/dev/null || true
    kills=$((kills + 1))
    echo "--- killed (SIGKILL) ---" >>"log.$i"
    start "$i"
    restarts=$((restarts + 1))
  fi
done
errors=0
for ((i = 0; i < PROCS; i++)); do
  if ! wait "${pids[i]}"; then
    errors=$((errors + 1))
    say "process in slot $i failed: $(tail -n 2 "log.$i" | tr '\n' ' ')"
  fi
  pids[i]=0
done
elapsed=$(($(date +%s) - t0))

# The checks.
q() { sqlite3 -batch -noheader load.db "$1"; }
integrity=$(q "PRAGMA integrity_check")
q "SELECT config_hash || ',' || seed_text FROM runs WHERE status = 'done'" | sort >done.txt
ran=$(wc -l <done.txt)
duplicates=$(uniq -d done.txt | wc -l)
extra_runs=$((ran - $(sort -u done.txt | wc -l)))
missing=$(comm -23 units.txt <(sort -u done.txt) | wc -l)
foreign=$(comm -13 units.txt <(sort -u done.txt) | wc -l)
not_done=$(q "SELECT count(*) FROM runs WHERE status != 'done'")
partial=0
for t in accuracy inference_accuracy epochs metrics; do
  n=$(q "SELECT count(*) FROM $t WHERE run_id NOT IN (SELECT id FROM runs WHERE status = 'done')")
  partial=$((partial + n))
done
incomplete=$(q "SELECT count(*) FROM runs r WHERE status = 'done' AND (
  (SELECT count(*) FROM accuracy a WHERE a.run_id = r.id) != (r.num_tasks + 1) * r.num_tasks
  OR NOT EXISTS (SELECT 1 FROM metrics m WHERE m.run_id = r.id))")
takeovers=$(cat log.* | grep -c "took over run" || true)
held=$(cat log.* | grep -c ": held by " || true)
journal=$(q "PRAGMA journal_mode")

say "$elapsed s with $PROCS processes: $ran runs done ($nunits units), $kills kills, $restarts restarts, $takeovers take-overs of a killed process's run, $held skips of a unit held by a live process"
say "duplicates $duplicates (units done twice: $extra_runs extra runs), missing $missing, foreign $foreign, runs not done $not_done, partial rows $partial, done runs without their whole matrix or metrics $incomplete, failed processes $errors"
say "integrity_check: $integrity; journal_mode: $journal"

# One process alone, for the matrices.
"$noprop" run --sweep a.yaml --db ref.db --data data >ref.log 2>&1 || fail "the reference run failed: $(tail -n 3 ref.log)"
"$noprop" run --sweep b.yaml --db ref.db --data data >>ref.log 2>&1 || fail "the reference run failed: $(tail -n 3 ref.log)"
# The last column, the scoring time of the cell, differs from run to run.
cells() { "$noprop" export --db "$1" --format csv --what cells | cut -d, -f2- | sed 's/,[^,]*$//' | sort; }
cells ref.db >ref.csv
cells load.db >load.csv
same=yes
diff -q ref.csv load.csv >/dev/null || same=no
say "matrices equal to one process's, cell by cell ($(($(wc -l <ref.csv) - 1)) cells): $same"

[ "$integrity" = ok ] || fail "integrity_check: $integrity"
[ "$duplicates" = 0 ] && [ "$missing" = 0 ] && [ "$foreign" = 0 ] || fail "not every unit is done exactly once"
[ "$not_done" = 0 ] && [ "$partial" = 0 ] && [ "$incomplete" = 0 ] || fail "partial rows are visible"
[ "$errors" = 0 ] || fail "$errors processes failed"
[ "$journal" = "$([ "$JOURNAL" = rollback ] && echo delete || echo wal)" ] || fail "journal mode $journal, want $JOURNAL"
[ "$same" = yes ] || fail "the matrices differ from one process's"
[ "$kills" -gt 0 ] && [ "$takeovers" -gt 0 ] || fail "no process was killed in the middle of a run: nothing was tested (raise KILL_FOR)"
echo "PASS"
