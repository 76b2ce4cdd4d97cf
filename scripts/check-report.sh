#!/usr/bin/env bash
# Checks `noprop report` end to end, as a reader would see it: builds the
# binary, stores a few real short runs (backprop and NoProp-DT on split
# MNIST, class- and task-incremental, 2 seeds), writes the report, opens
# index.html in headless Chromium and checks that the page rendered: the DOM
# holds the summary table, the matrices, the settings and the embedded
# figures, and the screenshot is neither missing nor blank. The screenshot
# is kept; its path is printed last. About two minutes on 2 cores.
#
#   scripts/check-report.sh                 # in a new temporary folder
#   OUT=/tmp/report-check scripts/check-report.sh
#
# Not part of `make test`. Needs Debian's chromium (installed with apt-get
# when missing) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-$(mktemp -d -t noprop-report.XXXXXX)}
mkdir -p "$OUT"
db="$OUT/results.db"

fail() { echo "check-report: $*" >&2; exit 1; }

if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
command -v python3 >/dev/null 2>&1 || fail "needs python3 to check the screenshot"

echo "== build"
make -s build

echo "== short runs into $db"
bin/noprop run --db "$db" --method backprop,noprop-dt:quick --set iterations=50 \
  --dataset mnist --stream split --tasks 5 --scenario class,task --seeds 2 >"$OUT/run.log"

echo "== report"
bin/noprop report --db "$db" -o "$OUT/report"
page="$OUT/report/index.html"
[ -s "$page" ] || fail "$page was not written"
[ -s "$OUT/report/report.md" ] || fail "report.md was not written"

chrome=(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync)

echo "== render in headless Chromium"
timeout 120 "${chrome[@]}" --user-data-dir="$(mktemp -d)" --dump-dom "file://$page" \
  >"$OUT/dom.html" 2>"$OUT/chromium.log" || fail "chromium --dump-dom failed (see $OUT/chromium.log)"
dom="$OUT/dom.html"
for want in '<h2 id="summary">Summary</h2>' '<th>ACC</th>' '<th>forgetting</th>' 'after task 5' \
  'backprop on split-mnist, class-IL' 'noprop-dt:quick on split-mnist, task-IL' '"iterations": 50' 'config hash'; do
  grep -qF -- "$want" "$dom" || fail "the rendered page lacks $want"
done
imgs=$(grep -o '<img src="data:image/png;base64,' "$dom" | wc -l)
[ "$imgs" -eq 5 ] || fail "the rendered page embeds $imgs figures, want 5"
if grep -qE '(src|href)="(https?:|file:|//)' "$dom"; then
  fail "the page refers to an outside file"
fi

shot="$OUT/report-screenshot.png"
rm -f "$shot"
timeout 120 "${chrome[@]}" --user-data-dir="$(mktemp -d)" --screenshot="$shot" --window-size=1280,2000 \
  --hide-scrollbars "file://$page" >>"$OUT/chromium.log" 2>&1 || fail "chromium --screenshot failed (see $OUT/chromium.log)"
[ -s "$shot" ] || fail "no screenshot at $shot"

# Not blank: decode the PNG and count the pixels that are not the
# background colour (the most common one).
python3 - "$shot" <<'PY' || fail "the screenshot looks blank: $shot"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, w, h, ctype = 8, b"", 0, 0, 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        assert depth == 8, "bit depth %d" % depth
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
bpp = {2: 3, 6: 4}[ctype]
raw, stride = zlib.decompress(idat), w * bpp
prev, counts = bytearray(stride), {}
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp * 4):  # every 4th pixel is enough
        px = bytes(line[x:x + 3])
        counts[px] = counts.get(px, 0) + 1
    prev = line
total = sum(counts.values())
background = max(counts.values())
ink = total - background
print("screenshot %dx%d: %.1f%% of sampled pixels differ from the background, %d colours" % (w, h, 100.0 * ink / total, len(counts)))
sys.exit(0 if ink / total > 0.05 and len(counts) > 50 else 1)
PY

echo "report: $page"
echo "screenshot: $shot"
