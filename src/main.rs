//! The `poslens` binary: parse arguments, run, map errors to exit codes (0 ok, 1 runtime
//! error, 2 usage error). Everything else lives in the library.

use clap::Parser;

fn main() {
    let cli = poslens::cli::Cli::parse();
    if let Err(e) = poslens::run(cli) {
        // Messages quote input (headers, values): mask anything that could be a card number.
        let message = poslens::ingest::normalize::scrub_pans(&e.to_string());
        eprintln!("poslens: error: {message}");
        std::process::exit(e.exit_code());
    }
}
