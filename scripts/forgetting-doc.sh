#!/usr/bin/env bash
# Regenerates every table and figure of docs/forgetting.md from the study's
# exports committed in docs/data/forgetting-*.csv, without the study's
# database: it imports them into a temporary database and renders the
# document's generated blocks (noprop render), each of which names the
# command that makes it. CHECK=1 changes nothing and fails when the
# document or a figure is not what the exports give (the test suite checks
# the same: TestForgettingDocFromItsData).
#
# With DB set, the exports are first refreshed from that database: the
# runs, cells, metrics and probe of the finished runs that FILTER selects
# (flags of noprop export; default: the whole database).
#
#   scripts/forgetting-doc.sh                  # regenerate from the exports
#   CHECK=1 scripts/forgetting-doc.sh          # verify only
#   DB=study.db scripts/forgetting-doc.sh      # export the study, then regenerate
set -euo pipefail
cd "$(dirname "$0")/.."

make build
if [ -n "${DB:-}" ]; then
  [ -f "$DB" ] || { echo "forgetting-doc: no database $DB (DB names the study's results database)" >&2; exit 2; }
  for what in runs cells metrics probe; do
    # shellcheck disable=SC2086 # FILTER is a list of flags
    bin/noprop export --format csv --what "$what" --db "$DB" ${FILTER:-} -o "docs/data/forgetting-$what.csv"
  done
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin/noprop import "$tmp/study.db" docs/data/forgetting-*.csv
bin/noprop render docs/forgetting.md --db "$tmp/study.db" ${CHECK:+--check}
