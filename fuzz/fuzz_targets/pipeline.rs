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

/// An `.xlsx` package around fuzzed parts: the bytes up to the first NUL are the sheet's
/// XML, up to the next NUL the shared strings, the rest the styles (an empty part is left out
/// of the package). Raw bytes read as a zip rarely get past its CRCs; mutating the parts
/// themselves reaches calamine's XML readers and poslens' sheet grid.
#[allow(dead_code)] // each target includes this module; only ingest_xlsx_parts uses this
pub fn xlsx_from_parts(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut parts = data.splitn(3, |&b| b == 0);
    let sheet = parts.next().unwrap_or_default();
    let strings = parts.next().unwrap_or_default();
    let styles = parts.next().unwrap_or_default();
    const MAIN: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
    const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
    const PKG: &str = "http://schemas.openxmlformats.org/package/2006/relationships";
    let types = r#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#;
    let root = format!(
        r#"<?xml version="1.0"?><Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
    );
    let workbook = format!(
        r#"<?xml version="1.0"?><workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#
    );
    let book_rels = format!(
        r#"<?xml version="1.0"?><Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{REL}/styles" Target="styles.xml"/><Relationship Id="rId3" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#
    );
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let files: [(&str, &[u8]); 7] = [
        ("[Content_Types].xml", types.as_bytes()),
        ("_rels/.rels", root.as_bytes()),
        ("xl/workbook.xml", workbook.as_bytes()),
        ("xl/_rels/workbook.xml.rels", book_rels.as_bytes()),
        ("xl/worksheets/sheet1.xml", sheet),
        ("xl/sharedStrings.xml", strings),
        ("xl/styles.xml", styles),
    ];
    for (name, bytes) in files.into_iter().filter(|(_, b)| !b.is_empty()) {
        zip.start_file(name, stored).expect("zip entry");
        zip.write_all(bytes).expect("zip write");
    }
    zip.finish().expect("zip").into_inner()
}

/// Let a panic raised inside calamine through to poslens' own guard (which reports the file as
/// damaged) instead of to libFuzzer, which aborts on every panic, caught or not; any other
/// panic still aborts and is a finding. For the Excel targets.
#[allow(dead_code)] // each target includes this module; only the Excel ones use this
pub fn let_calamine_panics_through() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_calamine = info
                .location()
                .is_some_and(|l| l.file().contains("/calamine-"));
            if !in_calamine {
                fuzzer_hook(info);
            }
        }));
    });
}
