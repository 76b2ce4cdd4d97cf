#!/usr/bin/env bash
# Regenerates every table and figure of the document NAME of docs/ (the
# Markdown file of that name) from the exports committed beside it, docs/data/NAME-{runs,cells,metrics,probe,epochs}.csv
# (those that exist; runs is needed), without the database they came from:
# it imports them into a temporary database and renders the document's
# generated blocks (noprop render), each of which names the command that
# makes it. CHECK=1 changes nothing and fails when the document or a figure
# is not what the exports give (the test suite checks the same for every
# such document: TestDocsFromTheirData).
#
# With DB set, the exports are first refreshed from that database: the
# tables WHAT names (default "runs cells metrics probe") of the finished
# runs that FILTER selects (flags of noprop export; default: the whole
# database). FILTER_<WHAT> (FILTER_PROBE, ...) replaces FILTER for that one
# table, e.g. to keep the probe's many rows to the runs a figure draws.
# PARTS_<WHAT> (a list of datasets) writes that table in one file a
# dataset, docs/data/NAME-WHAT-DATASET.csv, to keep each file small; the
# parts are read as one table.
#
#   scripts/doc-from-data.sh forgetting                  # regenerate docs/forgetting.md
#   CHECK=1 scripts/doc-from-data.sh forgetting          # verify only
#   DB=study.db scripts/doc-from-data.sh forgetting      # export the study, then regenerate
#   DB=cifar.db WHAT="runs cells metrics epochs" FILTER="--dataset cifar100" scripts/doc-from-data.sh cifar
#   DB=all.db FILTER_PROBE="--strategy finetune" scripts/doc-from-data.sh forgetting
set -euo pipefail
cd "$(dirname "$0")/.."

name=${1:-}
ext=md
doc=docs/$name.$ext
[ -n "$name" ] && [ $# = 1 ] || { echo "doc-from-data: usage: scripts/doc-from-data.sh NAME (a Markdown document of docs/, named without its extension)" >&2; exit 2; }
[ -f "$doc" ] || { echo "doc-from-data: no $doc (NAME names a Markdown document of docs/ without its extension)" >&2; exit 2; }
make build
if [ -n "${DB:-}" ]; then
  [ -f "$DB" ] || { echo "doc-from-data: no database $DB (DB names the results database to export)" >&2; exit 2; }
  for what in ${WHAT:-runs cells metrics probe}; do
    case $what in runs | cells | metrics | probe | epochs) ;; *) echo "doc-from-data: WHAT: $what is not one of runs, cells, metrics, probe, epochs" >&2; exit 2 ;; esac
    filter_var="FILTER_${what^^}"
    filter=${!filter_var-${FILTER:-}}
    parts_var="PARTS_${what^^}"
    rm -f "docs/data/$name-$what.csv" "docs/data/$name-$what"-*.csv
    if [ -z "${!parts_var:-}" ]; then
      # shellcheck disable=SC2086 # a filter is a list of flags
      bin/noprop export --format csv --what "$what" --db "$DB" $filter -o "docs/data/$name-$what.csv"
      continue
    fi
    for ds in ${!parts_var}; do
      # shellcheck disable=SC2086
      bin/noprop export --format csv --what "$what" --db "$DB" $filter --dataset "$ds" -o "docs/data/$name-$what-$ds.csv"
    done
  done
fi
files=()
for what in runs cells metrics probe epochs; do
  for f in "docs/data/$name-$what.csv" "docs/data/$name-$what"-*.csv; do
    [ ! -f "$f" ] || files+=("$f")
  done
done
[ -f "docs/data/$name-runs.csv" ] || { echo "doc-from-data: no docs/data/$name-runs.csv (export it with DB=...)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin/noprop import "$tmp/data.db" "${files[@]}"
bin/noprop render "$doc" --db "$tmp/data.db" ${CHECK:+--check}
