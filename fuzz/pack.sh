#!/usr/bin/env bash
# Minimise each target's corpus (cargo fuzz cmin) and pack it into
# tests/fixtures/fuzz/corpus/<target>.hex (one input per line, in hex, sorted), which
# `cargo test` replays with the target's checks (tests/fuzz_regressions.rs). Run after
# fuzz/run.sh; same $FUZZ_DIR and toolchain.
#
# Usage: fuzz/pack.sh [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(csv_split timestamp normalise ingest_csv ingest_jsonl ingest_jpos ingest_excel)
work="${FUZZ_DIR:-$HOME/.cache/poslens-fuzz}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/poslens-fuzz-target}"
out=../tests/fixtures/fuzz/corpus
mkdir -p "$out"
for t in "${targets[@]}"; do
  cargo +nightly fuzz cmin -O "$t" "$work/corpus/$t" -- -rss_limit_mb=2048 -timeout=20 \
    > "$work/$t.cmin.log" 2>&1
  for f in "$work/corpus/$t"/*; do
    od -An -v -tx1 "$f" | tr -d ' \n'
    echo
  done | LC_ALL=C sort -u > "$out/$t.hex"
  echo "$t: $(wc -l < "$out/$t.hex") inputs, $(wc -c < "$out/$t.hex") bytes"
done
