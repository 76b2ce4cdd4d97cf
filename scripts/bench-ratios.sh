#!/usr/bin/env bash
# bench-ratios.sh: the speed figures docs/performance.md quotes, as ratios
# measured side by side in one run, so that another machine reproduces
# them whatever its absolute speed:
#
#   - the convolution products' GFLOP/s against the large shapes' mean
#     (fwd-784, fwd-1024, wgrad, dgrad), on one goroutine and on all, and
#     on one goroutine against the bound of their memory traffic alone
#     (BenchmarkSgemmTraffic: reading A and writing C once, as GFLOP/s);
#   - each training step in fp32 against bf16 (precision=bf16), where the
#     CPU has the bf16 instructions;
#   - scoring with K = 5 inference runs against K = 1 (the paper's conv
#     block, 500 images);
#   - NoProp-DT's sequential order with one worker against two, which
#     train consecutive blocks' passes at once (mlp and conv blocks).
#
# Each figure is the median of ROUNDS rounds; the benchmarks of one round
# run back to back, so a machine whose speed drifts slows both sides of a
# ratio alike. Go against PyTorch is scripts/bench-vs-pytorch.sh.
#
#   scripts/bench-ratios.sh
#   ROUNDS=5 scripts/bench-ratios.sh
#
# Environment: ROUNDS (default 3), GOMAXPROCS (as set, else every core).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
case $ROUNDS in '' | *[!0-9]* | 0) echo "bench-ratios: ROUNDS=$ROUNDS: want a positive integer" >&2; exit 2 ;; esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/gemm.test" ./methods/nn/gemm/
go test -c -o "$tmp/noprop.test" ./methods/noprop/
go build -o "$tmp/noprop" .

# bench BINARY PATTERN BENCHTIME: one run of the benchmarks, appended to
# $tmp/out as "name value unit" lines (the last metric of each line).
bench() {
  "$1" -test.run '^$' -test.bench "$2" -test.benchtime "$3" |
    awk '/^Benchmark/ { name = $1; sub(/-[0-9]+$/, "", name); print name, $(NF-1), $NF }' >>"$tmp/out"
}

: >"$tmp/out"
for ((r = 1; r <= ROUNDS; r++)); do
  echo "bench-ratios: round $r of $ROUNDS" >&2
  bench "$tmp/gemm.test" '^BenchmarkSgemm(P1)?$/[^/]*/gemm' 1s
  bench "$tmp/gemm.test" '^BenchmarkSgemmTraffic$/conv' 20x
  bench "$tmp/noprop.test" '^BenchmarkStep(MLP|Conv|ConvCIFAR)(BF16)?$' 20x
  bench "$tmp/noprop.test" '^BenchmarkScoresRunsConv$' 3x
  bench "$tmp/noprop.test" '^BenchmarkLearn(MLP|Conv)$' 3x
done

# The medians, then the ratios.
# The kernels this CPU runs, as noprop --version names them.
kernels=$("$tmp/noprop" --version | sed -n 's/.*(kernels: \(.*\))$/\1/p')
awk -v rounds="$ROUNDS" -v kernels="$kernels" '
function median(key,   n, i, j, t, v) {
  n = split(vals[key], v, " ")
  for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
  return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
{ vals[$1] = vals[$1] " " $2 }
END {
  printf "Medians of %d rounds.\n\nConvolution products against the large shapes (GFLOP/s):\n", rounds
  printf "%-12s %-14s %10s %10s %10s\n", "goroutines", "shape", "GFLOP/s", "of large", "of bound"
  for (g = 1; g <= 2; g++) {
    pre = g == 1 ? "BenchmarkSgemmP1/" : "BenchmarkSgemm/"
    label = g == 1 ? "one" : "all"
    large = 0; nl = 0
    split("fwd-784 fwd-1024 wgrad dgrad", ls, " ")
    for (i in ls) { k = pre ls[i]; for (key in vals) if (index(key, k "/") == 1) { large += median(key); nl++ } }
    if (nl == 0) continue
    large /= nl
    printf "%-12s %-14s %10.1f %10s %10s\n", label, "large (mean)", large, "1", "-"
    split("conv1 conv2 conv2-wgrad conv3 conv3-wgrad", cs, " ")
    for (i = 1; i <= 5; i++) {
      k = pre cs[i]; t = "BenchmarkSgemmTraffic/" cs[i]
      for (key in vals) if (index(key, k "/") == 1) {
        bound = g == 1 && (t in vals) ? sprintf("%.2f", median(key) / median(t)) : "-"
        printf "%-12s %-14s %10.1f %10.2f %10s\n", label, cs[i], median(key), median(key) / large, bound
      }
    }
  }
  printf "\nTraining steps, fp32 against bf16 (ms a step; kernels: %s):\n%-12s %10s %10s %10s\n", kernels, "step", "fp32", "bf16", "speed-up"
  split("MLP Conv ConvCIFAR", ss, " ")
  for (i = 1; i <= 3; i++) {
    f = "BenchmarkStep" ss[i]; b = f "BF16"
    if (!(f in vals)) continue
    if (b in vals) printf "%-12s %10.2f %10.2f %10.2f\n", ss[i], median(f), median(b), median(f) / median(b)
    else printf "%-12s %10.2f %10s %10s\n", ss[i], median(f), "-", "-"
  }
  k1 = "BenchmarkScoresRunsConv/K=1"; k5 = "BenchmarkScoresRunsConv/K=5"
  if ((k1 in vals) && (k5 in vals))
    printf "\nScoring 500 images, conv block: K = 1 %.3f s, K = 5 %.3f s, ratio %.2f\n", median(k1), median(k5), median(k5) / median(k1)
  printf "\nNoProp-DT sequential order, blocks at once (ms a block step):\n%-12s %10s %10s %10s\n", "encoder", "1 worker", "2 workers", "speed-up"
  split("MLP Conv", es, " ")
  for (i = 1; i <= 2; i++) {
    w1 = "BenchmarkLearn" es[i] "/workers=1"; w2 = "BenchmarkLearn" es[i] "/workers=2"
    if ((w1 in vals) && (w2 in vals)) printf "%-12s %10.2f %10.2f %10.2f\n", es[i], median(w1), median(w2), median(w1) / median(w2)
  }
}' "$tmp/out"
