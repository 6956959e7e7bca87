//! The integration tests, one binary (ripgrep's and fd's layout: one link of the crate
//! instead of one per file). Each module runs the real `poslens` binary on real fixtures
//! and compares parsed values; `common` holds the shared helpers.

mod common;

mod beyond;
mod browser;
mod catalog_crosscheck;
mod cli;
mod cube_sql;
mod engine;
mod exports;
mod fuzz_regressions;
mod hardening;
mod ingest;
mod jpos;
mod views;
