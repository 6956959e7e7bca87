#!/usr/bin/env bash
# Run every fuzz target for SECONDS each (default 900), $PARALLEL at a time (default 2), seeded
# from the test fixtures. Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# Corpora and crashes are kept under $FUZZ_DIR (default ~/.cache/poslens-fuzz); a crash's
# minimised input belongs in tests/fixtures/fuzz/<target>/, where `cargo test` replays it.
#
# Usage: fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-900}"; shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(csv_split timestamp normalise ingest_csv ingest_jsonl ingest_jpos ingest_excel ingest_xlsx_parts)
work="${FUZZ_DIR:-$HOME/.cache/poslens-fuzz}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/poslens-fuzz-target}"
fx=../tests/fixtures
seed() { # target, files...
  local dir="$work/corpus/$1"; shift
  mkdir -p "$dir"
  for f in "$@"; do [ -f "$f" ] && cp "$f" "$dir/" || true; done
}
seed ingest_csv $fx/csv/*.csv $fx/equiv/*.csv $fx/cube_sql/edge.csv
seed csv_split $fx/csv/*.csv $fx/equiv/canonical.csv
seed ingest_jsonl $fx/jsonl/*.jsonl $fx/equiv/transactions.jsonl
seed ingest_jpos $fx/jpos/*.xml $fx/equiv/host.xml
seed ingest_excel $fx/equiv/*.xlsx $fx/equiv/*.xls
# The transaction sheet, shared strings and styles of the portal workbooks, NUL-separated.
seed ingest_xlsx_parts seeds/ingest_xlsx_parts/*
mkdir -p "$work/corpus/timestamp" "$work/corpus/normalise"
printf '2026-11-05T14:30:05+08:00' > "$work/corpus/timestamp/rfc3339"
printf '2026/11/05 14:30:05.250' > "$work/corpus/timestamp/slashes"
printf '20261105143005' > "$work/corpus/timestamp/compact"
printf '05-Do not honour' > "$work/corpus/normalise/code_text"
printf '"1,234.50"' > "$work/corpus/normalise/amount"

cargo +nightly fuzz build -O
run() {
  local t="$1"
  mkdir -p "$work/artifacts/$t"
  cargo +nightly fuzz run -O "$t" "$work/corpus/$t" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 \
    -artifact_prefix="$work/artifacts/$t/" -print_final_stats=1 \
    > "$work/$t.log" 2>&1 || echo "$t: stopped with a finding, see $work/$t.log and $work/artifacts/$t/"
  grep -E "stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added" "$work/$t.log" | sed "s/^/$t /" || true
}
i=0
for t in "${targets[@]}"; do
  run "$t" &
  i=$((i + 1))
  if [ $((i % ${PARALLEL:-2})) -eq 0 ]; then wait; fi
done
wait
