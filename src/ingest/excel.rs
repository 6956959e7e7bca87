//! Excel workbooks (`.xlsx`, `.xls`) as merchant portals hand them out (issue 11).
//!
//! A portal's transaction list is rarely a clean table: a title row or two (`交易明细`,
//! `Merchant 10 — November`) sits above the header, a totals row (`合计`, `Total`) closes
//! it, and the cells are typed: dates are serial numbers, long ids and response codes are
//! numbers. This reader turns such a sheet into the same [`Item`]s a CSV file gives:
//!
//! - the sheet is the first one, or the one named with `--sheet`;
//! - the header is the first of the top [`HEADER_SEARCH_ROWS`] rows that names every
//!   required field; rows above it are titles, not data, and are not counted;
//! - a row holding a totals label ([`totals_label`]) is rejected with its own reason, so
//!   it is counted in `rows_read` and shows up in `rejects.csv`, and never as a transaction;
//! - cells become the text a CSV export would hold ([`cell_text`]): serial dates converted
//!   exactly (to the millisecond Excel keeps), whole numbers without `.0` or exponent, so a
//!   numeric response code `5` is padded to `05` downstream exactly as in CSV;
//! - line numbers are the sheet's row numbers, as Excel shows them.
//!
//! The workbook is parsed by `calamine` (pure Rust, reads both the zip/XML and the old BIFF
//! format); the sheet's cells are held in memory, which is fine at Excel's limit of 1,048,576
//! rows, but not the empty rectangle around them ([`grid`]).

use std::io::Cursor;
use std::path::Path;

use calamine::{Data, ExcelDateTime, ExcelDateTimeType, Reader, Sheets};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use self::grid::Grid;
use super::csv::check_required;
use super::normalize::mask_pan;
use super::schema::{Field, Item, Mapping, RawFields};
use crate::config::Format;
use crate::error::{Error, Result};

mod grid;
mod ole;
mod package;

/// How far down the header row is looked for (title rows, a blank line, notes).
pub const HEADER_SEARCH_ROWS: usize = 20;

/// Columns of a sheet that are read: transaction exports have a few dozen; Excel 2003 had 256.
pub const MAX_COLUMNS: usize = 1024;

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
/// The OLE2 compound file that holds an `.xls` (BIFF) workbook.
const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// The Excel format of a file, by its content first (a renamed file keeps its magic bytes),
/// then by its extension; None when it is not a workbook.
pub fn detect(path: &Path, head: &[u8]) -> Option<Format> {
    if head.starts_with(OLE_MAGIC) {
        return Some(Format::Xls);
    }
    let name = path.to_string_lossy().to_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    let by_name = if name.ends_with(".xlsx") || name.ends_with(".xlsm") {
        Some(Format::Xlsx)
    } else if name.ends_with(".xls") {
        Some(Format::Xls)
    } else {
        None
    };
    // A zip is read as a workbook: no other format we read is a zip.
    if head.starts_with(ZIP_MAGIC) {
        return Some(Format::Xlsx);
    }
    by_name
}

/// Read one workbook (its whole bytes) and hand every data row of the chosen sheet to
/// `on_item`, in sheet order.
pub fn read(
    bytes: Vec<u8>,
    path: &Path,
    sheet: Option<&str>,
    mapping: &Mapping,
    on_item: &mut dyn FnMut(Item) -> Result<()>,
) -> Result<()> {
    let bad = |reason: String| Error::BadInput {
        path: path.into(),
        reason,
    };
    let mut book = guarded(path, || open(bytes, path))?;
    let names = book.sheet_names();
    let name = match sheet {
        Some(want) => names.iter().find(|n| n.as_str() == want).ok_or_else(|| {
            bad(format!(
                "no sheet named {want:?}; the workbook has: {}",
                quoted(&names)
            ))
        })?,
        None => names
            .first()
            .ok_or_else(|| bad("the workbook has no sheet".into()))?,
    }
    .clone();
    let grid = guarded(path, || {
        sheet_grid(&mut book, &name).map_err(|e| bad(format!("cannot read sheet {name:?}: {e}")))
    })?;

    let (header_at, columns) = find_header(&grid, path, mapping, &name).map_err(|e| match e {
        // The first sheet of a portal workbook is often a summary: say where else to look.
        Error::BadInput { path, reason } if sheet.is_none() && names.len() > 1 => {
            Error::BadInput {
                path,
                reason: format!(
                    "{reason}; this is the first sheet ({name:?}) of {}: pick another with --sheet NAME",
                    quoted(&names)
                ),
            }
        }
        other => other,
    })?;
    let roles = roles(&columns, &grid, header_at);
    let pan_col = columns.iter().position(|c| *c == Some(Field::Pan));
    for grid::Row { index, cells: row } in grid.rows_after(header_at) {
        // Line numbers are the sheet's row numbers.
        let line = u64::from(grid.first_row) + u64::from(index) + 1;
        if row.iter().all(is_blank) {
            continue; // a blank row is not a row, as a blank line in CSV
        }
        if let Some(label) = totals_label(&row) {
            on_item(Item::Reject {
                line,
                reason: format!("totals row, not a transaction ({label:?})"),
                excerpt: row_excerpt(&row, pan_col),
            })?;
            continue;
        }
        let mut fields = RawFields::default();
        for ((cell, col), role) in row.iter().zip(&columns).zip(&roles) {
            let Some(field) = col else { continue };
            let text = cell_text(cell, *role);
            let text = text.trim();
            if !text.is_empty() {
                fields.set(*field, text);
            }
        }
        on_item(Item::Record { line, fields })?;
    }
    Ok(())
}

/// The sheet's non-empty cells, at most [`MAX_COLUMNS`] from the first used column (a
/// damaged workbook can hold a stray cell in column 65,026, found by fuzzing:
/// `ingest_excel/stray-far-column` took 20 s). An `.xlsx` sheet is streamed cell by cell, so
/// that memory follows the cells, not the rectangle they span; an `.xls` one calamine has
/// already laid out at open, bounded by what `ole.rs` lets through (65,536 × 256).
fn sheet_grid(book: &mut Sheets<Cursor<Vec<u8>>>, name: &str) -> std::result::Result<Grid, String> {
    let mut cells = Vec::new();
    match book {
        Sheets::Xlsx(xlsx) => {
            let mut reader = match xlsx.worksheet_cells_reader(name) {
                Ok(reader) => reader,
                // A chart sheet: calamine reads it as an empty range, and so does this.
                Err(calamine::XlsxError::NotAWorksheet(_)) => return Ok(Grid::new(cells, 0)),
                Err(e) => return Err(e.to_string()),
            };
            while let Some(cell) = reader.next_cell().map_err(|e| e.to_string())? {
                let (row, col) = cell.get_position();
                let value = Data::from(cell.get_value().clone());
                if value != Data::Empty {
                    cells.push((row, col, value));
                }
            }
        }
        _ => {
            let range = book.worksheet_range(name).map_err(|e| e.to_string())?;
            let (top, left) = range.start().unwrap_or((0, 0));
            for (r, c, value) in range.used_cells() {
                cells.push((top + r as u32, left + c as u32, value.clone()));
            }
        }
    }
    Ok(Grid::new(cells, MAX_COLUMNS))
}

/// Run a step of the Excel reader, turning a panic inside it into this file's error: a
/// damaged workbook (found by fuzzing: calamine asserts on a malformed record length) must
/// end with a message, not abort the run. A panic raised in calamine's code is not printed
/// (the user gets the message, not calamine's assertion and a backtrace); a panic in ours
/// still is, being a bug to report.
fn guarded<T>(path: &Path, step: impl FnOnce() -> Result<T>) -> Result<T> {
    thread_local! {
        static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    static QUIET_HOOK: std::sync::Once = std::sync::Once::new();
    QUIET_HOOK.call_once(|| {
        let print = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_calamine = info
                .location()
                .is_some_and(|l| l.file().contains("calamine-"));
            if !(in_calamine && GUARDED.with(|g| g.get())) {
                print(info);
            }
        }));
    });
    GUARDED.with(|g| g.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(step));
    GUARDED.with(|g| g.set(false));
    result.unwrap_or_else(|_| {
        Err(Error::BadInput {
            path: path.into(),
            reason: "the workbook is damaged: the Excel reader could not read its structure".into(),
        })
    })
}

/// Open a workbook by its content: a zip is `.xlsx`, an OLE file `.xls`; anything else is
/// named for what it is (portals save HTML tables as `.xls`).
fn open(bytes: Vec<u8>, path: &Path) -> Result<Sheets<Cursor<Vec<u8>>>> {
    let bad = |reason: String| Error::BadInput {
        path: path.into(),
        reason,
    };
    let what = |e: &dyn std::fmt::Display| format!("cannot read the workbook: {e}");
    if bytes.starts_with(ZIP_MAGIC) {
        // calamine trusts the shared-string table's stated size; a false one must not reach it.
        package::check(&bytes).map_err(|e| bad(format!("the workbook is damaged: {e}")))?;
        let book = calamine::open_workbook_from_rs(Cursor::new(bytes))
            .map_err(|e: calamine::XlsxError| bad(what(&e)))?;
        return Ok(Sheets::Xlsx(book));
    }
    if bytes.starts_with(OLE_MAGIC) {
        // calamine trusts the container's sector chains; a looping one must not reach it.
        ole::check(&bytes).map_err(|e| bad(format!("the workbook is damaged: {e}")))?;
        let book = calamine::open_workbook_from_rs(Cursor::new(bytes))
            .map_err(|e: calamine::XlsError| bad(what(&e)))?;
        return Ok(Sheets::Xls(book));
    }
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_lowercase();
    if text.contains("<html") || text.contains("<table") {
        return Err(bad("this is an HTML table saved with an Excel name, not a workbook: open it in Excel and save it as .xlsx or CSV".into()));
    }
    Err(bad(
        "not an Excel workbook (neither .xlsx nor .xls content): check the file, or give --format"
            .into(),
    ))
}

fn quoted(names: &[String]) -> String {
    let q: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    q.join(", ")
}

/// The header row: the first of the top rows that names every required field (rows above it
/// are titles). Without one, the error names what is missing in the most header-like row.
fn find_header(
    grid: &Grid,
    path: &Path,
    mapping: &Mapping,
    sheet: &str,
) -> Result<(u32, Vec<Option<Field>>)> {
    let mut best: Option<(usize, Vec<String>, Vec<Option<Field>>)> = None;
    for i in 0..grid.height.min(HEADER_SEARCH_ROWS as u32) {
        let headers: Vec<String> = grid
            .row(i)
            .cells
            .iter()
            .map(|c| cell_text(c, Role::Other).trim().to_string())
            .collect();
        let columns = mapping.resolve(&headers);
        let mapped = columns.iter().flatten().count();
        if Field::REQUIRED.iter().all(|f| columns.contains(&Some(*f))) {
            return Ok((i, columns));
        }
        if best.as_ref().is_none_or(|b| mapped > b.0) {
            // The message lists the headers found; the empty cells after the last say nothing.
            let mut headers = headers;
            while headers.last().is_some_and(String::is_empty) {
                headers.pop();
            }
            best = Some((mapped, headers, columns));
        }
    }
    let Some((_, headers, columns)) = best else {
        return Err(Error::BadInput {
            path: path.into(),
            reason: format!("sheet {sheet:?} is empty"),
        });
    };
    check_required(path, &headers, &columns)?;
    Err(Error::internal("excel", "a complete header was not taken"))
}

/// How a column's cells are read: date and time columns turn numbers into dates and times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A whole timestamp (no date column beside it).
    Timestamp,
    /// The same, in a sheet where every value of the column is a whole day: a date without
    /// a time, written as such so that it is rejected for having no time rather than read
    /// as midnight.
    DateOnlyTimestamp,
    /// The date of a split date and time.
    Date,
    /// The time of a split date and time.
    Time,
    Amount,
    Other,
}

/// Each column's role; `header_at` is the header row, the data rows follow it.
fn roles(columns: &[Option<Field>], grid: &Grid, header_at: u32) -> Vec<Role> {
    let split = columns.contains(&Some(Field::Date));
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| match c {
            Some(Field::Date) => Role::Date,
            Some(Field::Timestamp) if split => Role::Time,
            Some(Field::Timestamp) if whole_days(grid.column_after(header_at, i)) => {
                Role::DateOnlyTimestamp
            }
            Some(Field::Timestamp) => Role::Timestamp,
            Some(Field::Amount) => Role::Amount,
            _ => Role::Other,
        })
        .collect()
}

/// True when the column holds date cells and every one of them is a whole day.
fn whole_days<'a>(cells: impl Iterator<Item = &'a Data>) -> bool {
    let mut dates = 0;
    for c in cells {
        if let Data::DateTime(dt) = c {
            if dt.as_f64().fract() != 0.0 {
                return false;
            }
            dates += 1;
        }
    }
    dates > 0
}

fn is_blank(c: &Data) -> bool {
    match c {
        Data::Empty => true,
        Data::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// Labels that open a totals or summary row in exports, compared lower-case after trimming.
const TOTALS_LABELS: &[&str] = &[
    "total",
    "totals",
    "grand total",
    "subtotal",
    "sub-total",
    "sub total",
    "sum",
    "summary",
    "合计",
    "總計",
    "合計",
    "总计",
    "小计",
    "小計",
    "汇总",
    "彙總",
    "共计",
];

/// The label of a totals row: a text cell that is a totals label alone (`合计`, `Total:`) or
/// followed by its figures (`合计：25笔`, `Total (25)`). A merchant called `Total Fuel`
/// is not one: after the label only `:`, `：`, `(`, `（` or the end may come.
fn totals_label(row: &[Data]) -> Option<String> {
    row.iter().find_map(|c| {
        let Data::String(s) = c else { return None };
        let t = s.trim().to_lowercase();
        let is_totals = TOTALS_LABELS.iter().any(|l| {
            t.strip_prefix(*l).is_some_and(|rest| {
                let rest = rest.trim_start();
                rest.is_empty() || rest.starts_with([':', '：', '(', '（'])
            })
        });
        is_totals.then(|| s.trim().to_string())
    })
}

/// The row as text for `rejects.csv`, the card-number column cut to six and four (the
/// pipeline also masks any Luhn-valid digit run before writing).
fn row_excerpt(row: &[Data], pan_col: Option<usize>) -> String {
    let parts: Vec<String> = row
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let s = cell_text(c, Role::Other);
            if Some(i) == pan_col && !s.trim().is_empty() {
                mask_pan(&s)
            } else {
                s
            }
        })
        .collect();
    parts.join(",")
}

/// Serial numbers past this are after 9999-12-31, the last day Excel has.
const LAST_SERIAL: f64 = 2_958_466.0;

/// A cell as the text a CSV export of the same sheet would hold, read for its column's role.
fn cell_text(cell: &Data, role: Role) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Data::Error(e) => e.to_string(),
        Data::DateTime(dt) => serial_text(*dt, role).unwrap_or_else(|| number_text(dt.as_f64())),
        Data::Int(i) => number_cell(*i as f64, role),
        Data::Float(f) => number_cell(*f, role),
    }
}

/// A number cell: in a date or time column a serial date or a day fraction when it has that
/// shape (otherwise the digits, e.g. `20261105`, `143005`, epoch seconds); amounts rounded to
/// the micro-unit (a formula's `12.340000000000002` is `12.34`); anything else as digits.
fn number_cell(v: f64, role: Role) -> String {
    let in_days = (1.0..LAST_SERIAL).contains(&v);
    let serial = match role {
        Role::Date => in_days && v.fract() == 0.0,
        Role::Time => (0.0..1.0).contains(&v),
        // A whole number in a timestamp column is not a serial date-time (it has no time).
        Role::Timestamp => in_days && v.fract() != 0.0,
        Role::DateOnlyTimestamp => in_days,
        Role::Amount | Role::Other => false,
    };
    if serial {
        let dt = ExcelDateTime::new(v, ExcelDateTimeType::DateTime, false);
        if let Some(s) = serial_text(dt, role) {
            return s;
        }
    }
    if role == Role::Amount && v.fract() != 0.0 {
        let s = format!("{v:.6}");
        return s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    number_text(v)
}

/// Digits without `.0` and never in exponent form: `123456789012345`, `5`, `12.5`.
fn number_text(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        // Rust prints floats in full decimal, never with an exponent.
        format!("{v}")
    }
}

/// A serial date-time as text for its column's role. The day comes from calamine (which
/// knows the workbook's 1900 or 1904 date system); the time of day is rounded to the
/// millisecond, the precision Excel keeps, so `14:30:05` stored as 0.60422453703… is read
/// back as 14:30:05.000 and not 14:30:04.999.
fn serial_text(dt: ExcelDateTime, role: Role) -> Option<String> {
    let v = dt.as_f64();
    if !(0.0..LAST_SERIAL).contains(&v) {
        return None;
    }
    let ms_of_day = ((v - v.floor()) * 86_400_000.0).round() as i64;
    let (y, m, d, ..) = dt.to_ymd_hms_milli();
    let day = if v < 1.0 {
        None // a time of day without a date (serial 0 is the day before 1900-01-01)
    } else {
        Some(NaiveDate::from_ymd_opt(y.into(), m.into(), d.into())?)
    };
    let at = NaiveDateTime::new(day.unwrap_or_default(), NaiveTime::from_hms_opt(0, 0, 0)?)
        + chrono::Duration::milliseconds(ms_of_day);
    let clock = if at.and_utc().timestamp_subsec_millis() == 0 {
        at.format("%H:%M:%S").to_string()
    } else {
        at.format("%H:%M:%S%.3f").to_string()
    };
    let date = at.format("%Y-%m-%d");
    Some(match (role, day) {
        (_, None) => clock,
        (Role::Date | Role::DateOnlyTimestamp, Some(_)) => date.to_string(),
        _ => format!("{date} {clock}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(v: f64) -> ExcelDateTime {
        ExcelDateTime::new(v, ExcelDateTimeType::DateTime, false)
    }

    #[test]
    fn serials_convert_exactly() {
        // 2026-11-05 is day 46331; 14:30:05 is 52205 s into the day.
        let v = 46331.0 + 52205.0 / 86400.0;
        assert_eq!(
            serial_text(dt(v), Role::Timestamp).as_deref(),
            Some("2026-11-05 14:30:05")
        );
        assert_eq!(
            serial_text(dt(v), Role::Date).as_deref(),
            Some("2026-11-05")
        );
        assert_eq!(
            serial_text(dt(52205.0 / 86400.0), Role::Time).as_deref(),
            Some("14:30:05")
        );
        // Just before midnight rounds into the same day's last millisecond, not the next day.
        let late = 46331.0 + (86_400_000.0 - 1.0) / 86_400_000.0;
        assert_eq!(
            serial_text(dt(late), Role::Timestamp).as_deref(),
            Some("2026-11-05 23:59:59.999")
        );
        // 1904 workbooks: calamine knows the epoch.
        let mac = ExcelDateTime::new(46331.0 - 1462.0, ExcelDateTimeType::DateTime, true);
        assert_eq!(serial_text(mac, Role::Date).as_deref(), Some("2026-11-05"));
    }

    #[test]
    fn numbers_stay_text_like_csv() {
        assert_eq!(
            cell_text(&Data::Float(123456789012345.0), Role::Other),
            "123456789012345"
        );
        assert_eq!(cell_text(&Data::Float(5.0), Role::Other), "5");
        assert_eq!(cell_text(&Data::Int(51), Role::Other), "51");
        assert_eq!(
            cell_text(&Data::Float(12.340000000000002), Role::Amount),
            "12.34"
        );
        assert_eq!(cell_text(&Data::Float(-20.0), Role::Amount), "-20");
        // In date and time columns, numbers of other shapes keep their digits.
        assert_eq!(cell_text(&Data::Int(20261105), Role::Date), "20261105");
        assert_eq!(cell_text(&Data::Int(143005), Role::Time), "143005");
        assert_eq!(cell_text(&Data::Int(46331), Role::Date), "2026-11-05");
        assert_eq!(
            cell_text(&Data::Float(1794189600.0), Role::Timestamp),
            "1794189600"
        );
    }

    #[test]
    fn totals_rows_are_known_by_their_label() {
        let s = |t: &str| Data::String(t.into());
        assert_eq!(
            totals_label(&[Data::Empty, s("合计"), Data::Float(3.0)]),
            Some("合计".into())
        );
        assert!(totals_label(&[s("Total: 25 transactions")]).is_some());
        assert!(totals_label(&[s("合计：25笔")]).is_some());
        assert!(totals_label(&[s("Total Fuel Ltd"), s("T100")]).is_none());
        assert!(totals_label(&[s("Summary of fees")]).is_none());
    }
}
