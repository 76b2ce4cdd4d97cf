#!/usr/bin/env bash
# bench-compare.sh: benchmarks of two revisions side by side, in one run.
#
# Builds the test binaries of the packages at BASE and at the working tree,
# then runs their benchmarks in alternating rounds (base, new, base, new, …)
# so that a machine whose speed drifts (a shared VM, other processes) slows
# both alike, and prints benchstat's comparison: each benchmark's time at
# BASE and now, the ratio and its confidence. Quote the ratios, not the
# absolute times: they are what another machine reproduces.
#
#   scripts/bench-compare.sh                         # BASE=HEAD~1, the step benchmarks
#   BASE=cb4cf88 ROUNDS=8 scripts/bench-compare.sh
#   PKGS="./methods/nn/" BENCH='Linear' scripts/bench-compare.sh
#
# Environment: BASE (a revision, default HEAD~1), PKGS (packages, default
# the rules with step benchmarks), BENCH (the -bench pattern, default
# 'Step'), ROUNDS (default 6), BENCHTIME (default 20x), GOMAXPROCS (as
# set, else every core). Needs git and the Go module proxy (benchstat is
# fetched from golang.org/x/perf).
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${BASE:-HEAD~1}
PKGS=${PKGS:-./methods/noprop/ ./methods/backprop/}
BENCH=${BENCH:-Step}
ROUNDS=${ROUNDS:-6}
BENCHTIME=${BENCHTIME:-20x}
BENCHSTAT=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

die() { echo "bench-compare: $*" >&2; exit 1; }
rev=$(git rev-parse --verify --quiet "$BASE^{commit}") || die "BASE=$BASE is not a revision of this repository"

work=$(mktemp -d -t bench-compare.XXXXXX)
trap 'git worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --detach --quiet "$work/base" "$rev"

build() { # build DIR TAG: one test binary per package
  for p in $PKGS; do
    name=$(echo "$p" | tr -c 'a-zA-Z0-9\n' _)
    if (cd "$1" && [ -d "$p" ]); then
      (cd "$1" && go test -c -o "$work/$2$name.test" "$p")
    fi
  done
}
build "$work/base" base.
build . new.

for ((r = 1; r <= ROUNDS; r++)); do
  echo "== round $r of $ROUNDS" >&2
  for side in base new; do
    for bin in "$work/$side".*.test; do
      [ -e "$bin" ] || continue
      "$bin" -test.run '^$' -test.bench "$BENCH" -test.benchtime "$BENCHTIME" -test.benchmem |
        { grep -E '^(Benchmark|goos:|goarch:|pkg:|cpu:)' || true; } >>"$work/$side.txt"
    done
  done
done

echo "base: $BASE ($(git rev-parse --short "$rev")); new: the working tree of $(git rev-parse --short HEAD)"
go run "$BENCHSTAT" base="$work/base.txt" new="$work/new.txt"
