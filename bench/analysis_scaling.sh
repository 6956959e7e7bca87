#!/usr/bin/env bash
# Analysis time against input size: the analysis stage works on the cube, so its time should
# follow the number of cube cells, not the number of rows. Generates `poslens sample` data at
# 1x and 10x the default volume (same terminals and days), runs `analyze` three times each and
# prints the stage timings poslens reports on stderr, plus peak memory.
#
# Usage: bench/analysis_scaling.sh [WORKDIR]   (needs a release build: cargo build --release)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARGO_TARGET_DIR:-target}/release/poslens"
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
work="${1:-$(mktemp -d)}"
mkdir -p "$work"

"$bin" sample --out "$work/x1" --seed 42 >/dev/null
"$bin" sample --out "$work/x10" --seed 42 --rows 1000000 >/dev/null

for size in x1 x10; do
  for run in 1 2 3; do
    /usr/bin/time -f "peak_rss_kb=%M wall_s=%e" "$bin" analyze "$work/$size" --out "$work/out-$size" \
      2> "$work/err" > "$work/summary"
    cells=$(grep -o '[0-9,]* cube cells' "$work/summary" | tr -d ,)
    rows=$(grep -o 'rows read [0-9,]*' "$work/summary" | tr -d ,)
    echo "$size run $run: $rows, $cells, $(grep -h 'poslens:' "$work/err"), $(tail -1 "$work/err")"
  done
done
