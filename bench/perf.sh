#!/usr/bin/env bash
# poslens analyze against DuckDB, side by side in one run (issue 9's benchmark).
#
# Makes canonical CSVs with `poslens sample --one-file` (RFC 3339 +08:00 timestamps, 30 days,
# about 1,560 rows per terminal, so terminals and cube cells grow with the rows), installs
# DuckDB from PyPI into a venv beside the data, and alternates `poslens analyze --tz
# Asia/Shanghai` with DuckDB running bench/duckdb_cube.sql on the same file (classification
# join, hourly cube in the zone, four summaries to CSV). Each pair runs RUNS times (default 3);
# the table gives the median wall time, rows/s, MB/s, the median peak RSS (/usr/bin/time) and
# poslens' wall time as a fraction of DuckDB's. The 10m size also gets a gzip row.
#
# Usage: bench/perf.sh [SIZE...]   sizes: 1m 10m 30m (default: all three)
#        BENCH_DIR=... (default ~/.cache/poslens-bench; 30m needs about 5 GB), RUNS=3
#        POSLENS_BIN=path  measure this binary instead of building the work tree (no cargo build)
#        BASELINE_BIN=path also measure an older binary, "poslens (baseline)", in the same
#                          alternation (poslens, baseline, DuckDB each run), for "no more than x%
#                          slower than before": a side-by-side run on a shared machine is fairer
#                          than comparing with a table from another day. Adds a
#                          poslens/baseline wall column, and wall and peak-RSS ratios after the
#                          table.
# On a shared machine, run it as `chrt -f 10 bench/perf.sh` (root): real-time scheduling gives
# both tools the cores whatever else runs, so the table means the same as on a quiet machine.
# Speed is measured here, never in a test. Results: bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
work="${BENCH_DIR:-$HOME/.cache/poslens-bench}"
runs="${RUNS:-3}"
tz=Asia/Shanghai
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1m 10m 30m)
mkdir -p "$work"

# A given binary is measured as it is: building would be pointless, and in a tree someone else
# is editing it would build their half-done work.
if [ -n "${POSLENS_BIN:-}" ]; then
  bin="$POSLENS_BIN"
else
  cargo build --release --locked -q
  bin="${CARGO_TARGET_DIR:-target}/release/poslens"
fi
baseline="${BASELINE_BIN:-}"
for b in "$bin" ${baseline:+"$baseline"}; do
  [ -x "$b" ] || { echo "not an executable: $b" >&2; exit 2; }
done
if [ ! -x "$work/venv/bin/python" ]; then
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install -q duckdb==2.0.0
fi
"$bin" codes --format csv > "$work/codes.csv"

rows_of() { case "$1" in 1m) echo 1000000;; 10m) echo 10000000;; 30m) echo 30000000;; *) echo "unknown size $1" >&2; exit 2;; esac; }

# One measured run: wall seconds and peak RSS (KB) of a command, appended to a file.
measure() {
  local out="$1"; shift
  /usr/bin/time -f '%e %M' -o "$work/time.tmp" "$@" > /dev/null 2> "$work/stderr.tmp" \
    || { cat "$work/stderr.tmp" >&2; exit 1; }
  cat "$work/time.tmp" >> "$out"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# The DuckDB query for one input, written to $work/q.sql.
duckdb_sql() {
  mkdir -p "$work/out-duckdb"
  sed -e "s|@INPUT@|$1|; s|@CODES@|$work/codes.csv|; s|@OUT@|$work/out-duckdb|g; s|@TZ@|$tz|" \
    bench/duckdb_cube.sql > "$work/q.sql"
}

if [ -n "$baseline" ]; then
  echo "| input | rows | MB | tool | wall s (median of $runs) | rows/s | MB/s | peak RSS MB | poslens/DuckDB wall | poslens/baseline wall |"
  echo "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|"
else
  echo "| input | rows | MB | tool | wall s (median of $runs) | rows/s | MB/s | peak RSS MB | poslens/DuckDB wall |"
  echo "|---|---:|---:|---|---:|---:|---:|---:|---:|"
fi
ratios=()  # new/baseline lines, printed after the table so it stays one table
for size in "${sizes[@]}"; do
  rows=$(rows_of "$size")
  data="$work/data-$size"
  # Only $bin writes the data, so with a baseline both binaries read the same bytes (the sample
  # generator may change between commits).
  if [ ! -s "$data/transactions.csv" ]; then
    "$bin" sample --out "$data" --one-file --tz "$tz" --rows "$rows" --terminals $((rows / 1560)) \
      --days 30 --seed 7 > /dev/null
  fi
  inputs=("$data/transactions.csv")
  if [ "$size" = 10m ]; then
    [ -s "$data/transactions.csv.gz" ] || gzip -1 -k -c "$data/transactions.csv" > "$data/transactions.csv.gz"
    inputs+=("$data/transactions.csv.gz")
  fi
  for input in "${inputs[@]}"; do
    rm -f "$work/p.times" "$work/b.times" "$work/d.times"
    duckdb_sql "$input"
    # Alternating (rather than all runs of one tool, then the next) spreads whatever else the
    # machine does over all tools alike.
    for _ in $(seq "$runs"); do
      measure "$work/p.times" "$bin" analyze "$input" --tz "$tz" --out "$work/out-poslens"
      if [ -n "$baseline" ]; then
        measure "$work/b.times" "$baseline" analyze "$input" --tz "$tz" --out "$work/out-baseline"
      fi
      measure "$work/d.times" "$work/venv/bin/python" -c \
        'import duckdb,sys; duckdb.connect().execute(open(sys.argv[1]).read())' "$work/q.sql"
    done
    n=$(grep -o '"rows_read": *[0-9]*' "$work/out-poslens/manifest.json" | tail -1 | grep -o '[0-9]*$')
    mb=$(du -m "$input" | cut -f1)
    pw=$(cut -d' ' -f1 "$work/p.times" | median); pm=$(cut -d' ' -f2 "$work/p.times" | median)
    dw=$(cut -d' ' -f1 "$work/d.times" | median); dm=$(cut -d' ' -f2 "$work/d.times" | median)
    name="$size $(basename "$input" | sed 's/transactions//')"
    if [ -z "$baseline" ]; then
      awk -v name="$name" -v n="$n" -v mb="$mb" -v pw="$pw" -v pm="$pm" -v dw="$dw" -v dm="$dm" 'BEGIN {
        printf "| %s | %d | %d | poslens | %.2f | %.0f | %.0f | %.0f | %.2f |\n", name, n, mb, pw, n/pw, mb/pw, pm/1024, pw/dw
        printf "| %s | %d | %d | DuckDB | %.2f | %.0f | %.0f | %.0f | |\n", name, n, mb, dw, n/dw, mb/dw, dm/1024
      }'
      continue
    fi
    bw=$(cut -d' ' -f1 "$work/b.times" | median); bm=$(cut -d' ' -f2 "$work/b.times" | median)
    awk -v name="$name" -v n="$n" -v mb="$mb" -v pw="$pw" -v pm="$pm" -v bw="$bw" -v bm="$bm" \
        -v dw="$dw" -v dm="$dm" 'BEGIN {
      printf "| %s | %d | %d | poslens | %.2f | %.0f | %.0f | %.0f | %.2f | %.3f |\n", name, n, mb, pw, n/pw, mb/pw, pm/1024, pw/dw, pw/bw
      printf "| %s | %d | %d | poslens (baseline) | %.2f | %.0f | %.0f | %.0f | %.2f | |\n", name, n, mb, bw, n/bw, mb/bw, bm/1024, bw/dw
      printf "| %s | %d | %d | DuckDB | %.2f | %.0f | %.0f | %.0f | | |\n", name, n, mb, dw, n/dw, mb/dw, dm/1024
    }'
    # The per-run walls too: with few runs a median can hide how far apart the runs were.
    ratios+=("$(awk -v name="$name" -v pw="$pw" -v pm="$pm" -v bw="$bw" -v bm="$bm" \
      -v pr="$(cut -d' ' -f1 "$work/p.times" | paste -sd' ')" \
      -v br="$(cut -d' ' -f1 "$work/b.times" | paste -sd' ')" 'BEGIN {
      printf "- %s: poslens/baseline wall %.3f, peak RSS %.3f (runs: poslens %s; baseline %s)", name, pw/bw, pm/bm, pr, br
    }')")
  done
done
if [ ${#ratios[@]} -gt 0 ]; then
  echo
  printf '%s\n' "${ratios[@]}"
fi
