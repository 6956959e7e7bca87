//! The `poslens` binary: parse arguments, run, map errors to exit codes (0 ok, 1 runtime
//! error, 2 usage error). Everything else lives in the library.

use clap::Parser;

fn main() {
    let cli = poslens::cli::Cli::parse();
    let result = poslens::run(cli);
    if std::env::var_os("POSLENS_TEST_PEAK_RSS").is_some() {
        // Test hook (tests/hardening.rs): hostile inputs must end within bounded memory, and
        // the kernel's high-water mark of this process is the exact figure to check that by.
        if let Some(kb) = peak_rss_kib() {
            eprintln!("poslens: peak memory {kb} KiB");
        }
    }
    if let Err(e) = result {
        // Messages quote input (headers, values): mask anything that could be a card number.
        let message = poslens::ingest::normalize::scrub_pans(&e.to_string());
        eprintln!("poslens: error: {message}");
        std::process::exit(e.exit_code());
    }
}

/// The process's peak resident set (`VmHWM`), where the system reports it (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
