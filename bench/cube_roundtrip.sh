#!/usr/bin/env bash
# The cube computed where the data lives renders the same as poslens' own (issue 16): a month
# of `poslens sample` logs (300 terminals, with the sample's bad rows and re-exported rows)
# becomes a cube three ways — poslens reading the logs, DuckDB running `poslens cube-sql
# --dialect duckdb` on the CSVs, Spark 4 in local mode running `--dialect spark` on a
# partitioned Parquet copy — and `poslens analyze --cube` must write byte-identical
# by_terminal, by_period, flagged_terminals, by_code and by_merchant CSVs from all three.
#
# Needs Java 17 (for Spark) and Python 3; installs duckdb and pyspark from PyPI into a venv.
# Usage: bench/cube_roundtrip.sh   (WORK=... default ~/.cache/poslens-roundtrip)
set -euo pipefail
cd "$(dirname "$0")/.."
work="${WORK:-$HOME/.cache/poslens-roundtrip}"
tz=Asia/Shanghai
mkdir -p "$work"

cargo build --release --locked -q
bin="$(realpath "${CARGO_TARGET_DIR:-target}/release/poslens")"
if ! "$work/venv/bin/python" -c "import duckdb, pyspark" >/dev/null 2>&1; then
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install -q duckdb==2.0.0 pyspark==4.3.0
fi
data="$work/data"
[ -d "$data" ] || "$bin" sample --out "$data" --terminals 300 --days 30 --seed 16 > /dev/null
"$work/venv/bin/python" bench/cube_roundtrip.py "$bin" "$data" "$work" "$tz"
