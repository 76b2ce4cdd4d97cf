#!/usr/bin/env bash
# bench-vs-pytorch.sh: time NoProp-DT in Go (bin/noprop, method noprop-dt)
# against the same configuration in PyTorch (scripts/noprop_dt_torch.py),
# back to back, on MNIST, with the same cores.
#
# Configuration (both sides): T = 10 blocks, one-hot embedding, AdamW
# lr 1e-3 wd 1e-3, eta 0.1, batch 128, the paper's sequential order (one
# epoch = T passes over the 60 000 training images, one per block), the full
# 10 000-image test set, 2 threads.
#
# Environment knobs:
#   ENCODERS       encoders to run, space-separated (default "mlp conv")
#   EPOCHS         epochs per run (default 1)
#   ROUNDS         runs of each side per encoder and precision, alternating
#                  PyTorch and Go (default 1); with more than one the table
#                  gives each side's median seconds and the median of the
#                  rounds' ratios with their range, since on a virtual
#                  machine one pair can be off by tens of percent
#   PRECISIONS     precisions to run, space-separated (default "fp32"): "bf16"
#                  is precision=bf16 for Go and torch.autocast with bfloat16
#                  for PyTorch (both need a CPU with AVX512_BF16 to gain)
#   THREADS        cores for each side (default 2): GOMAXPROCS for Go,
#                  OpenBLAS threads + torch threads for PyTorch
#   SEED           seed for both sides (default 1)
#   TORCH_INTRAOP  torch.set_num_threads per encoder, "enc=N ..." (default
#                  "mlp=1 conv=2", PyTorch's fastest here; docs/performance.md
#                  "Tuned B" for mlp, "Tuned A" for conv)
#   GO_PROCS       GOMAXPROCS per encoder for the Go side, "enc=N ..." (default
#                  THREADS for every encoder; "mlp=1" is the Go side's fastest
#                  on machines where the mlp step does not gain from a second
#                  core, docs/performance.md)
#   LIMIT_TRAIN    if set, the PyTorch side trains on that many images only
#                  (a smoke test; the Go side always uses the full set, so the
#                  table is then not a fair comparison)
#   SKIP_GO=1      run the PyTorch side only
#   SKIP_TORCH=1   run the Go side only
#   KEEP_DB=1      keep the temporary Go results database (its path is printed)
#   WAIT_QUIET     before each run, wait at most this many seconds for the
#                  machine to be idle (default 120; 0 = do not wait). Other
#                  processes, some invisible to ps (other PID namespaces), can take the cores:
#                  every run reports the CPU time the rest of the machine used
#                  meanwhile (scripts/cpuload.py); rerun when it is large.
#
# Environment both programs run in (docs/performance.md):
#   OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (the machine forces AVX2
#   kernels otherwise), OPENBLAS_NUM_THREADS=$THREADS, GOMAXPROCS=$THREADS,
#   OMP_WAIT_POLICY=PASSIVE and the glibc malloc tunables that keep large
#   buffers out of mmap. PyTorch runs with Debian's /usr/bin/python3
#   (python3-torch 1.13), installed with apt-get when missing.
#
# Usage: scripts/bench-vs-pytorch.sh            (from anywhere)
#        ENCODERS=mlp EPOCHS=2 scripts/bench-vs-pytorch.sh
set -euo pipefail

ENCODERS=${ENCODERS:-mlp conv}
PRECISIONS=${PRECISIONS:-fp32}
EPOCHS=${EPOCHS:-1}
ROUNDS=${ROUNDS:-1}
THREADS=${THREADS:-2}
SEED=${SEED:-1}
TORCH_INTRAOP=${TORCH_INTRAOP:-mlp=1 conv=2}
GO_PROCS=${GO_PROCS:-}
LIMIT_TRAIN=${LIMIT_TRAIN:-}
SKIP_GO=${SKIP_GO:-0}
SKIP_TORCH=${SKIP_TORCH:-0}
KEEP_DB=${KEEP_DB:-0}
WAIT_QUIET=${WAIT_QUIET:-120}
PY=/usr/bin/python3 # Debian's python: the pyenv python3 first on PATH has no torch

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'bench-vs-pytorch: %s\n' "$*" >&2; exit 1; }

case $EPOCHS in '' | *[!0-9]* | 0) die "EPOCHS=$EPOCHS: want a positive integer" ;; esac
case $THREADS in '' | *[!0-9]* | 0) die "THREADS=$THREADS: want a positive integer" ;; esac
case $ROUNDS in '' | *[!0-9]* | 0) die "ROUNDS=$ROUNDS: want a positive integer" ;; esac

# --- the shared environment -------------------------------------------------
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export OPENBLAS_NUM_THREADS=$THREADS
export GOMAXPROCS=$THREADS
export OMP_WAIT_POLICY=PASSIVE
export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824

# --- PyTorch ------------------------------------------------------------------
if [[ $SKIP_TORCH != 1 ]]; then
	if ! "$PY" -c 'import torch' 2>/dev/null; then
		log "installing Debian's python3-torch (about 200 MB)"
		if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y python3-torch >&2 ||
			die "apt-get install python3-torch failed"
		"$PY" -c 'import torch' || die "python3-torch installed but 'import torch' still fails"
	fi
	# Debian's torch multiplies through libblas.so.3: without OpenBLAS that is
	# the reference BLAS, ten times slower, and the comparison would be unfair.
	if [[ $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3) != *openblas* ]]; then
		log "installing Debian's libopenblas0 (libblas.so.3 is the reference BLAS)"
		if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y libopenblas0 >&2 ||
			die "apt-get install libopenblas0 failed"
		[[ $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3) == *openblas* ]] ||
			die "libblas.so.3 is still not OpenBLAS: check update-alternatives --display libblas.so.3-x86_64-linux-gnu"
	fi
fi

# --- Go -----------------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-vs-pytorch.XXXXXX")
cleanup() { if [[ $KEEP_DB == 1 ]]; then log "kept $tmp"; else rm -rf "$tmp"; fi; }
trap cleanup EXIT

if [[ $SKIP_GO != 1 ]]; then
	log "make build"
	make build >&2
	catalog=$(bin/noprop methods 2>&1) || die "bin/noprop methods failed: $catalog"
	if ! grep -q '^noprop-dt' <<<"$catalog"; then
		die "bin/noprop methods does not list noprop-dt yet: the Go side cannot run (use SKIP_GO=1 for the PyTorch side alone)"
	fi
fi

# perenc LIST ENC: the value LIST ("enc=N ...") gives the encoder, or THREADS.
perenc() {
	local kv
	for kv in $1; do
		if [[ ${kv%%=*} == "$2" ]]; then
			printf '%s\n' "${kv#*=}"
			return
		fi
	done
	printf '%s\n' "$THREADS"
}

# others SIDE ENC-PREC: the largest share of the cores other processes took
# during that side's runs.
others() {
	local f found=0 v max=0
	for f in "$tmp/$1-$2".*.load; do
		[[ -f $f ]] || continue
		found=1
		v=$(sed -n 's/^others_pct=//p' "$f")
		max=$(awk -v a="$max" -v b="${v:-0}" 'BEGIN { print (b > a) ? b : a }')
	done
	if [[ $found == 1 ]]; then echo "$max"; else echo -; fi
}

# median: the median of the numbers on stdin, one per line ("-" when none).
median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit } m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f\n", m }'
}

# run_torch ENC PREC ROUND: prints "sec_per_epoch test_acc peak_rss_MiB" (or
# "- - -" when skipped).
run_torch() {
	local enc=$1 prec=$2 round=$3
	if [[ $SKIP_TORCH == 1 ]]; then
		echo "- - -"
		return
	fi
	local args=(--encoder "$enc" --epochs "$EPOCHS" --threads "$THREADS"
		--intraop-threads "$(perenc "$TORCH_INTRAOP" "$enc")" --seed "$SEED" --precision "$prec")
	if [[ -n $LIMIT_TRAIN ]]; then args+=(--limit-train "$LIMIT_TRAIN"); fi
	log "torch: $PY scripts/noprop_dt_torch.py ${args[*]}"
	# tee to a file and to stderr (through stdout: "tee /dev/stderr" would
	# truncate a log file that stderr is redirected to).
	"$PY" "$here/cpuload.py" --wait-quiet "$WAIT_QUIET" --label "torch $enc $prec" --report "$tmp/torch-$enc-$prec.$round.load" -- \
		"$PY" "$here/noprop_dt_torch.py" "${args[@]}" | tee "$tmp/torch-$enc-$prec.out" >&2 ||
		die "the PyTorch run ($enc, $prec) failed"
	awk '/^RESULT torch/ {
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		print v["sec_per_epoch"], v["test_acc"], v["peak_rss_mib"]; found = 1
	} END { if (!found) exit 1 }' "$tmp/torch-$enc-$prec.out" || die "no RESULT line from the PyTorch run ($enc, $prec)"
}

# run_go ENC PREC ROUND: prints "sec_per_epoch test_acc peak_rss_MiB" (or "- - -"
# when skipped). The peak RSS is the one the harness stores with the run.
run_go() {
	local enc=$1 prec=$2 round=$3
	if [[ $SKIP_GO == 1 ]]; then
		echo "- - -"
		return
	fi
	local db="$tmp/go-$enc-$prec.$round.db"
	local args=(run --db "$db" --method noprop-dt --dataset mnist --stream joint
		--scenario class --seeds 1 --seed "$SEED" --verbose
		--set "encoder=$enc" --set "epochs=$EPOCHS" --set iterations=0
		--set embedding=one-hot --set timesteps=10 --set eta=0.1
		--set batch_size=128 --set optimizer=adamw --set lr=0.001
		--set weight_decay=0.001 --set train_order=sequential --set head=softmax
		--set "precision=$prec")
	local procs
	procs=$(perenc "$GO_PROCS" "$enc")
	log "go: GOMAXPROCS=$procs bin/noprop ${args[*]}"
	GOMAXPROCS=$procs "$PY" "$here/cpuload.py" --wait-quiet "$WAIT_QUIET" --label "go $enc $prec" --report "$tmp/go-$enc-$prec.$round.load" -- \
		bin/noprop "${args[@]}" >&2 || die "the Go run ($enc, $prec) failed"
	"$PY" - "$db" <<'EOF' || die "could not read the Go results from $db"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
runs = db.execute("SELECT id, peak_rss_bytes FROM runs WHERE method = 'noprop-dt' AND status = 'done'").fetchall()
if len(runs) != 1:
    sys.exit(f"expected one finished noprop-dt run, found {len(runs)}")
run, rss = runs[0]
secs = [s for (s,) in db.execute(
    "SELECT SUM(seconds) FROM epochs WHERE run_id = ? AND task = 1 GROUP BY epoch ORDER BY epoch",
    (run,))]
acc = db.execute(
    "SELECT accuracy FROM accuracy WHERE run_id = ? AND after_task = 1 AND eval_task = 1",
    (run,)).fetchone()
if not secs or acc is None or acc[0] is None:
    sys.exit("no epoch seconds or no test accuracy recorded")
for e, s in enumerate(secs, 1):
    print(f"go epoch {e}: train_sec {s:.2f}", file=sys.stderr)
print(f"{sum(secs) / len(secs):.3f} {acc[0]:.2f} {(rss or 0) / 2**20:.1f}")
EOF
}

rows=()
for enc in $ENCODERS; do
	case $enc in mlp | conv) ;; *) die "unknown encoder $enc (want mlp or conv)" ;; esac
	for prec in $PRECISIONS; do
		case $prec in fp32 | bf16) ;; *) die "unknown precision $prec (want fp32 or bf16)" ;; esac
		t_secs=() g_secs=() ratios=()
		for ((round = 1; round <= ROUNDS; round++)); do
			res=$(run_torch "$enc" "$prec" "$round")
			read -r t_sec t_acc t_rss <<<"$res"
			res=$(run_go "$enc" "$prec" "$round")
			read -r g_sec g_acc g_rss <<<"$res"
			t_secs+=("$t_sec") g_secs+=("$g_sec")
			if [[ $t_sec != - && $g_sec != - ]]; then
				ratios+=("$(awk -v g="$g_sec" -v t="$t_sec" 'BEGIN { printf "%.4f", g / t }')")
				log "round $round of $ROUNDS, $enc/$prec: PyTorch $t_sec s, Go $g_sec s, ratio ${ratios[-1]}"
			fi
		done
		ratio=-
		if ((${#ratios[@]} > 0)); then
			ratio=$(printf '%s\n' "${ratios[@]}" | median | awk '{ printf "%.2f", $1 }')
			if ((ROUNDS > 1)); then
				ratio+=$(printf '%s\n' "${ratios[@]}" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "(%.2f-%.2f)", lo, hi }')
			fi
		fi
		if ((ROUNDS > 1)); then
			[[ $t_sec == - ]] || t_sec=$(printf '%s\n' "${t_secs[@]}" | median)
			[[ $g_sec == - ]] || g_sec=$(printf '%s\n' "${g_secs[@]}" | median)
		fi
		rows+=("$enc/$prec $t_sec $g_sec $ratio $t_acc $g_acc $t_rss $g_rss $(others torch "$enc-$prec") $(others go "$enc-$prec")")
	done
done

note=""
if [[ -n $LIMIT_TRAIN ]]; then note=" (PyTorch on $LIMIT_TRAIN training images only)"; fi
printf '\nNoProp-DT, MNIST, T=10 one-hot, AdamW, batch 128, %s epoch(s), %s threads%s\n' \
	"$EPOCHS" "$THREADS" "$note"
if ((ROUNDS > 1)); then
	printf '%s alternating rounds: median seconds per epoch of each side, median ratio (range); accuracy and RSS of the last round\n' "$ROUNDS"
fi
for enc in $ENCODERS; do
	printf '%s: PyTorch intra-op threads %s, Go GOMAXPROCS %s\n' "$enc" "$(perenc "$TORCH_INTRAOP" "$enc")" "$(perenc "$GO_PROCS" "$enc")"
done
printf '%-10s %14s %14s %16s %12s %12s %14s %14s %14s %14s\n' encoder/prec torch_s/epoch go_s/epoch go/torch \
	torch_acc% go_acc% torch_rss_MiB go_rss_MiB others%_torch others%_go
for r in "${rows[@]}"; do
	read -r enc t_sec g_sec ratio t_acc g_acc t_rss g_rss o_t o_g <<<"$r"
	printf '%-10s %14s %14s %16s %12s %12s %14s %14s %14s %14s\n' "$enc" "$t_sec" "$g_sec" "$ratio" "$t_acc" "$g_acc" "$t_rss" "$g_rss" "$o_t" "$o_g"
done
echo "(rss: each process's peak resident set, data included: ru_maxrss for PyTorch, the harness's"
echo " stored peak for Go)"
echo "(others%: the share of all cores that other processes used during each run, training and"
echo " evaluation; above a few % the timing is contended: rerun when the machine is quiet)"
