//! The CSV summaries, with SPEC's exact columns. Text cells that a spreadsheet would run as a
//! formula (`= + - @`, tab, CR at the start) are neutralised with a leading `'`; numbers are
//! written as numbers. Rates have six decimals, so files are byte-stable.

use crate::classify::Class;
use crate::error::{Error, Result};
use crate::report::Report;

/// Neutralise a text cell against CSV/formula injection (OWASP).
pub fn safe_text(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_string(),
    }
}

fn rate(x: f64) -> String {
    format!("{x:.6}")
}

fn p(x: f64) -> String {
    format!("{x:.3e}")
}

fn write(header: &[&str], rows: Vec<Vec<String>>) -> Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let err = |e: csv::Error| Error::internal("csv", e);
    w.write_record(header).map_err(err)?;
    for r in rows {
        w.write_record(&r).map_err(err)?;
    }
    w.into_inner().map_err(|e| Error::internal("csv", e))
}

fn class_counts(c: &crate::analyze::ClassCounts) -> Vec<String> {
    let mut v = vec![c.transactions.to_string()];
    v.extend(Class::ALL.iter().map(|cl| c.get(*cl).to_string()));
    v
}

pub fn by_terminal(r: &Report) -> Result<Vec<u8>> {
    let rows = r
        .terminals
        .iter()
        .map(|t| {
            let mut row = vec![safe_text(&t.terminal_id), safe_text(&t.merchant_id)];
            row.extend(class_counts(&t.counts));
            row.extend([
                rate(t.failure_rate),
                rate(t.terminal_fault_rate),
                rate(t.fault_ci_low),
                rate(t.fault_ci_high),
                t.status.name().to_string(),
            ]);
            row
        })
        .collect();
    write(
        &[
            "terminal_id",
            "merchant_id",
            "transactions",
            "approved",
            "declined",
            "fraud",
            "network",
            "terminal",
            "unknown",
            "failure_rate",
            "terminal_fault_rate",
            "fault_ci_low",
            "fault_ci_high",
            "status",
        ],
        rows,
    )
}

pub fn by_period(r: &Report) -> Result<Vec<u8>> {
    let rows = r
        .periods
        .iter()
        .map(|p| {
            let mut row = vec![p.period_start.clone()];
            row.extend(class_counts(&p.counts));
            row.push(rate(p.failure_rate));
            row
        })
        .collect();
    write(
        &[
            "period_start",
            "transactions",
            "approved",
            "declined",
            "fraud",
            "network",
            "terminal",
            "unknown",
            "failure_rate",
        ],
        rows,
    )
}

pub fn by_code(r: &Report) -> Result<Vec<u8>> {
    let rows = r
        .codes
        .iter()
        .map(|c| {
            vec![
                safe_text(&c.response_code),
                c.class.name().to_string(),
                safe_text(&c.meaning),
                c.transactions.to_string(),
                rate(c.share),
            ]
        })
        .collect();
    write(
        &["response_code", "class", "meaning", "transactions", "share"],
        rows,
    )
}

pub fn by_merchant(r: &Report) -> Result<Vec<u8>> {
    let rows = r
        .merchants
        .iter()
        .map(|m| {
            let mut row = vec![
                safe_text(&m.merchant_id),
                safe_text(&m.merchant_name),
                m.terminals.to_string(),
            ];
            row.extend(class_counts(&m.counts));
            row.push(rate(m.failure_rate));
            row
        })
        .collect();
    write(
        &[
            "merchant_id",
            "merchant_name",
            "terminals",
            "transactions",
            "approved",
            "declined",
            "fraud",
            "network",
            "terminal",
            "unknown",
            "failure_rate",
        ],
        rows,
    )
}

pub fn flagged_terminals(r: &Report) -> Result<Vec<u8>> {
    let rows = r
        .flagged
        .iter()
        .map(|f| {
            vec![
                safe_text(&f.terminal_id),
                safe_text(&f.merchant_id),
                f.transactions.to_string(),
                f.terminal_faults.to_string(),
                rate(f.terminal_fault_rate),
                rate(f.baseline_rate),
                p(f.p_value),
                f.first_bad_period.clone(),
                safe_text(&f.top_codes),
                safe_text(&f.reason),
            ]
        })
        .collect();
    write(
        &[
            "terminal_id",
            "merchant_id",
            "transactions",
            "terminal_faults",
            "terminal_fault_rate",
            "baseline_rate",
            "p_value",
            "first_bad_period",
            "top_codes",
            "reason",
        ],
        rows,
    )
}

/// `rejects.csv`, streamed from the reject log into `out` (it can be larger than memory).
pub fn rejects(log: &mut crate::ingest::RejectLog, out: &mut dyn std::io::Write) -> Result<()> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(out);
    let err = |e: csv::Error| Error::internal("csv", e);
    w.write_record(["file", "line", "reason", "excerpt"])
        .map_err(err)?;
    log.for_each(|x| {
        w.write_record([
            safe_text(&x.file),
            x.line.to_string(),
            safe_text(&x.reason),
            safe_text(&x.excerpt),
        ])
        .map_err(err)
    })?;
    w.flush().map_err(|e| Error::internal("csv", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        assert_eq!(safe_text("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(safe_text("+1"), "'+1");
        assert_eq!(safe_text("@SUM"), "'@SUM");
        assert_eq!(safe_text("\tx"), "'\tx");
        assert_eq!(safe_text("Shop"), "Shop");
    }
}
