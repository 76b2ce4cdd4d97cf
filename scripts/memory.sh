#!/usr/bin/env bash
# Peak training memory of every learning rule, measured one configuration
# per process so that each peak RSS is its own (the kernel's peak mark of a
# process cannot always be reset).
#
# For the paper's architectures (presets paper / paper-cifar where a rule
# has them) on the shapes of MNIST, CIFAR-10 and CIFAR-100: each rule trains
# three minibatches of 128 and scores 512 images. Peak heap is the Go heap
# above the live heap before the learner is built (weights, gradients,
# optimizer state and buffers; not the data); peak RSS is the process's,
# data and runtime included. NoProp-DT and backprop-dt are also measured
# against T and the minibatch size on MNIST, and NoProp-DT once more with a
# set of layer buffers per block (share_scratch false).
#
#   scripts/memory.sh              # every table (about ten minutes on 2 cores)
#   ONLY=mnist scripts/memory.sh   # one shape
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(mktemp -d)/catalog.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" ./methods/catalog/
go build -o "$(dirname "$bin")/noprop" .
methods=$("$(dirname "$bin")/noprop" methods | grep -E '^[a-z]' | awk '{print $1}')

# measure PATTERN: run one benchmark in its own process; prints "heap rss".
measure() {
  "$bin" -test.run '^$' -test.bench "$1" -test.benchtime 1x 2>&1 |
    awk '/peak-heap-MiB/ { for (i = 1; i <= NF; i++) { if ($(i+1) == "peak-heap-MiB") h = $i; if ($(i+1) == "peak-rss-MiB") r = $i } }
         END { if (h == "") { print "? ?" } else { print h, r } }'
}

shapes=${ONLY:-mnist cifar10 cifar100}
echo "## Peak training memory per rule (MiB; minibatch 128)"
echo
echo "| shape | method | peak heap | peak RSS |"
echo "| --- | --- | --- | --- |"
for sh in $shapes; do
  for m in $methods; do
    read -r heap rss < <(measure "^BenchmarkTrainingMemory\$/^shape=$sh\$/^method=$m\$/^case=base\$")
    echo "| $sh | $m | $heap | $rss |"
  done
  read -r heap rss < <(measure "^BenchmarkTrainingMemory\$/^shape=$sh\$/^method=noprop-dt\$/^case=unshared\$")
  echo "| $sh | noprop-dt, a set of buffers per block (share_scratch false) | $heap | $rss |"
done
case " $shapes " in *" mnist "*) ;; *) exit 0 ;; esac
echo
echo "## MNIST shape: against T (minibatch 128) and the minibatch size (T = 10)"
echo
echo "| method | T | batch | peak heap | peak RSS |"
echo "| --- | --- | --- | --- | --- |"
for m in noprop-dt backprop-dt; do
  for T in 2 5 10 20; do
    read -r heap rss < <(measure "^BenchmarkTrainingMemory\$/^shape=mnist\$/^method=$m\$/^case=T$T\$")
    echo "| $m | $T | 128 | $heap | $rss |"
  done
  for b in 32 64 256; do
    read -r heap rss < <(measure "^BenchmarkTrainingMemory\$/^shape=mnist\$/^method=$m\$/^case=batch$b\$")
    echo "| $m | 10 | $b | $heap | $rss |"
  done
done
