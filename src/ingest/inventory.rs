//! `--inventory FILE`: what each terminal is, when the logs do not say — a CSV/TSV (or an
//! Excel workbook's first sheet) with `terminal_id` and any of model, firmware, app version,
//! store and region. Headers are matched like the logs' (`tid`, `终端号`, `device_model`,
//! `fw_version`, `固件版本` …).

use std::path::Path;

use super::schema::{normalize_header, Field, Mapping};
use crate::cube::attrs::{AttrMap, TerminalAttrs};
use crate::error::{Error, Result};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Col {
    Terminal,
    Model,
    Firmware,
    App,
    Store,
    Region,
}

fn column(header: &str) -> Option<Col> {
    let n = normalize_header(header);
    let any = |names: &[&str]| names.iter().any(|a| normalize_header(a) == n);
    if any(&["store", "shop", "store_name", "store_id", "门店", "网点"]) {
        return Some(Col::Store);
    }
    if any(&["region", "area", "city", "province", "地区", "区域", "城市"]) {
        return Some(Col::Region);
    }
    match Mapping::default().match_header(header)? {
        Field::TerminalId => Some(Col::Terminal),
        Field::TerminalModel => Some(Col::Model),
        Field::FirmwareVersion => Some(Col::Firmware),
        Field::AppVersion => Some(Col::App),
        _ => None,
    }
}

/// Read an inventory file into attributes per terminal id.
pub fn read(path: &Path) -> Result<AttrMap> {
    let bad = |reason: String| Error::BadInput {
        path: path.into(),
        reason,
    };
    let rows = rows_of(path)?;
    let mut rows = rows.into_iter();
    let header = rows.next().ok_or_else(|| {
        bad("the inventory is empty: it needs a header row with terminal_id".into())
    })?;
    let cols: Vec<Option<Col>> = header.iter().map(|h| column(h)).collect();
    if !cols.contains(&Some(Col::Terminal)) {
        return Err(bad(format!(
            "the inventory has no terminal_id column (headers: {})",
            header.join(", ")
        )));
    }
    if !cols.iter().any(|c| {
        matches!(
            c,
            Some(Col::Model | Col::Firmware | Col::App | Col::Store | Col::Region)
        )
    }) {
        return Err(bad(
            "the inventory names no model, firmware, app_version, store or region column".into(),
        ));
    }
    let mut out = AttrMap::new();
    for row in rows {
        let mut a = TerminalAttrs::default();
        let mut term = String::new();
        for (v, c) in row.iter().zip(&cols) {
            let v = v.trim().to_string();
            match c {
                Some(Col::Terminal) => term = v,
                Some(Col::Model) => a.model = v,
                Some(Col::Firmware) => a.firmware = v,
                Some(Col::App) => a.app_version = v,
                Some(Col::Store) => a.store = v,
                Some(Col::Region) => a.region = v,
                None => {}
            }
        }
        if !term.is_empty() {
            out.insert(term, a);
        }
    }
    Ok(out)
}

/// The file's rows as text: a workbook's first sheet, else delimited text (`,` `;` `|` tab,
/// whichever splits the header most).
fn rows_of(path: &Path) -> Result<Vec<Vec<String>>> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if matches!(ext.as_str(), "xlsx" | "xlsm" | "xls") {
        use calamine::Reader;
        let mut wb = calamine::open_workbook_auto(path).map_err(|e| Error::BadInput {
            path: path.into(),
            reason: format!("not a readable workbook: {e}"),
        })?;
        let range = wb
            .worksheet_range_at(0)
            .ok_or_else(|| Error::BadInput {
                path: path.into(),
                reason: "the workbook has no sheet".into(),
            })?
            .map_err(|e| Error::BadInput {
                path: path.into(),
                reason: format!("the first sheet cannot be read: {e}"),
            })?;
        return Ok(range
            .rows()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect());
    }
    let bytes = std::fs::read(path).map_err(|source| Error::Open {
        path: path.into(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let first = text.lines().next().unwrap_or("");
    let delim = [b',', b';', b'|', b'\t']
        .into_iter()
        .max_by_key(|d| first.bytes().filter(|b| b == d).count())
        .unwrap_or(b',');
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delim)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| Error::BadInput {
            path: path.into(),
            reason: format!("unreadable inventory row: {e}"),
        })?;
        rows.push(rec.iter().map(str::to_string).collect());
    }
    Ok(rows)
}
