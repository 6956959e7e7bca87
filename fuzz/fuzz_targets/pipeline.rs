//! Shared by the ingest targets: the bytes as one input file of the given name, read by the
//! real pipeline (small chunks, so the parallel splitter cuts often), then the invariants.

use poslens::cli::InputArgs;
use poslens::config;
use poslens::cube::{CODE, TERMINAL};
use poslens::ingest;
use poslens::ingest::normalize::scrub_pans;

pub fn check(data: &[u8], file_name: &str) {
    // Read twice: in chunks of 257 bytes (every input of a few lines crosses chunk and thread
    // boundaries) and in one chunk; the splitter must change nothing.
    let small = run(data, file_name, "257");
    let whole = run(data, file_name, "1048576");
    assert_eq!(small, whole, "the chunk size changed the result");
}

/// What a run gave: per input (read, accepted, rejected, duplicate), rejects (line, reason),
/// cube cells (terminal, code, transactions); None for a file-level error.
type Outcome = Option<(
    Vec<[u64; 4]>,
    Vec<(u64, String)>,
    Vec<(String, String, u64)>,
)>;

fn run(data: &[u8], file_name: &str, chunk: &str) -> Outcome {
    std::env::set_var("POSLENS_CHUNK_BYTES", chunk);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(file_name);
    std::fs::write(&path, data).expect("write input");
    let args = InputArgs {
        inputs: vec![path],
        tz: Some("Asia/Shanghai".into()),
        ..Default::default()
    };
    let cfg = config::for_validate(&args).expect("config");
    let Ok((mut outcome, cube)) = ingest::ingest(&cfg, true) else {
        return None; // a file-level error (unreadable, no header): a message, not a crash
    };
    // Reconciliation holds for every input and in total.
    for i in &outcome.inputs {
        assert_eq!(
            i.rows_read,
            i.rows_accepted + i.rows_rejected + i.rows_duplicate,
            "reconciliation: {i:?}"
        );
    }
    // No accepted transaction has an empty terminal or code.
    let mut cells = Vec::new();
    for cell in cube.rollup(&[TERMINAL, CODE]).expect("rollup") {
        assert!(!cell.terminal().is_empty(), "empty terminal accepted");
        assert!(!cell.code().is_empty(), "empty code accepted");
        cells.push((
            cell.terminal().to_string(),
            cell.code().to_string(),
            cell.transactions,
        ));
    }
    let mut rejects = Vec::new();
    // No card number survives into a reject's reason or excerpt.
    outcome
        .rejects
        .for_each(|r| {
            assert_eq!(scrub_pans(&r.excerpt), r.excerpt, "PAN in excerpt");
            assert_eq!(scrub_pans(&r.reason), r.reason, "PAN in reason");
            rejects.push((r.line, r.reason));
            Ok(())
        })
        .expect("rejects");
    let counts = outcome
        .inputs
        .iter()
        .map(|i| {
            [
                i.rows_read,
                i.rows_accepted,
                i.rows_rejected,
                i.rows_duplicate,
            ]
        })
        .collect();
    Some((counts, rejects, cells))
}
