#!/usr/bin/env bash
# Minimise each target's corpus (cargo fuzz cmin) and pack it (smallest inputs first, up to
# $BUDGET bytes) into tests/fixtures/fuzz/corpus/<target>.hex (one input per line, in hex,
# sorted), which `cargo test` replays with the target's checks (tests/fuzz_regressions.rs). Run after
# fuzz/run.sh; same $FUZZ_DIR and toolchain.
#
# Usage: [CMIN=0] [BUDGET=bytes] fuzz/pack.sh [TARGET...]   (CMIN=0: already minimised)
set -euo pipefail
cd "$(dirname "$0")"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(csv_split timestamp normalise ingest_csv ingest_jsonl ingest_jpos ingest_excel ingest_xlsx_parts)
work="${FUZZ_DIR:-$HOME/.cache/poslens-fuzz}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/poslens-fuzz-target}"
out=../tests/fixtures/fuzz/corpus
mkdir -p "$out"
for t in "${targets[@]}"; do
  if [ "${CMIN:-1}" = 1 ]; then
    cargo +nightly fuzz cmin -O "$t" "$work/corpus/$t" -- -rss_limit_mb=2048 -timeout=20 \
      > "$work/$t.cmin.log" 2>&1
  fi
  # The smallest inputs first, up to $BUDGET bytes a target (default 256 KiB): the ingest
  # corpora run to megabytes, most of it long inputs that add little to a replay.
  budget="${BUDGET:-262144}"
  total=0
  for f in $(cd "$work/corpus/$t" && ls -S -r); do
    size=$(stat -c %s "$work/corpus/$t/$f")
    total=$((total + size))
    [ "$total" -le "$budget" ] || break
    od -An -v -tx1 "$work/corpus/$t/$f" | tr -d ' \n'
    echo
  done | LC_ALL=C sort -u > "$out/$t.hex"
  echo "$t: $(wc -l < "$out/$t.hex") inputs, $(wc -c < "$out/$t.hex") bytes"
done
