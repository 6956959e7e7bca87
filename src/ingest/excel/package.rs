//! Checks on an `.xlsx` package before calamine opens it, for what calamine trusts.
//!
//! calamine 0.35 reserves room for as many shared strings as `xl/sharedStrings.xml` claims
//! (`<sst uniqueCount="…">`) before reading one, so a package of a few kilobytes claiming
//! four billion strings asks for 96 GB, and a failed allocation aborts the run: no message,
//! no report. The claim is checked against the part's real size first.

use std::io::{Cursor, Read};

use quick_xml::events::Event;

/// The fewest bytes one shared string takes in the part: `<si/>`.
const SMALLEST_STRING: u64 = 5;

/// Refuse a package whose shared-string table claims more strings than its bytes can hold.
/// A package that cannot be read as a zip is left to calamine, which says so.
pub fn check(bytes: &[u8]) -> Result<(), String> {
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return Ok(());
    };
    // calamine finds the part by this name, compared as it does: lower-case, `\` as `/`.
    let parts: Vec<String> = zip
        .file_names()
        .filter(|n| {
            n.replace('\\', "/")
                .eq_ignore_ascii_case("xl/sharedStrings.xml")
        })
        .map(str::to_string)
        .collect();
    for name in parts {
        let Ok(part) = zip.by_name(&name) else {
            continue;
        };
        check_strings(part)?;
    }
    Ok(())
}

/// The `uniqueCount` of the first `<sst>` element must be digits, and the part must hold at
/// least `SMALLEST_STRING` bytes for each string it claims (read only as far as needed).
fn check_strings(part: impl Read) -> Result<(), String> {
    let mut xml = quick_xml::Reader::from_reader(std::io::BufReader::new(part));
    let mut buf = Vec::new();
    let claim = loop {
        buf.clear();
        match xml.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().as_ref() == b"sst" => {
                let count = e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.as_ref() == b"uniqueCount")
                    .map(|a| a.value.into_owned());
                break count;
            }
            Ok(Event::Eof) | Err(_) => return Ok(()), // calamine reports a broken part
            Ok(_) => {}
        }
    };
    let Some(claim) = claim else { return Ok(()) };
    let count = std::str::from_utf8(&claim)
        .ok()
        .filter(|t| !t.is_empty() && t.len() <= 19 && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse::<u64>().ok())
        .ok_or_else(|| {
            format!(
                "its shared-string table gives its size as {:?}, not a number",
                String::from_utf8_lossy(&claim[..claim.len().min(40)])
            )
        })?;
    let need = count.saturating_mul(SMALLEST_STRING);
    let mut rest = xml.into_inner();
    let had = std::io::copy(&mut (&mut rest).take(need), &mut std::io::sink())
        .map_err(|e| format!("its shared-string table cannot be read: {e}"))?;
    if had < need {
        return Err(format!(
            "its shared-string table claims {count} strings but holds at most {}",
            had / SMALLEST_STRING
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sst(count: &str, strings: usize) -> Vec<u8> {
        let mut x = format!(
            r#"<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{strings}" uniqueCount="{count}">"#
        );
        for i in 0..strings {
            x.push_str(&format!("<si><t>s{i}</t></si>"));
        }
        x.push_str("</sst>");
        x.into_bytes()
    }

    #[test]
    fn an_honest_table_passes() {
        assert_eq!(check_strings(&sst("3", 3)[..]), Ok(()));
        assert_eq!(check_strings(&sst("0", 0)[..]), Ok(()));
    }

    #[test]
    fn a_table_claiming_billions_is_refused() {
        assert_eq!(
            check_strings(&sst("4000000000", 3)[..]),
            Err("its shared-string table claims 4000000000 strings but holds at most 12".into())
        );
        assert!(check_strings(&sst("+4000000000", 3)[..]).is_err());
        assert!(check_strings(&sst("99999999999999999999999", 3)[..]).is_err());
    }

    #[test]
    fn a_real_workbook_passes() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/equiv/portal_zh.xlsx");
        assert_eq!(check(&std::fs::read(path).unwrap()), Ok(()));
    }
}
