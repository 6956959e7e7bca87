//! The report's "beyond the response code" section: sales lost to failed payments (purchases,
//! not attempts), card readers falling back to magstripe, and slow terminals. Its words are in
//! `words.rs` with the rest of the report's.

use crate::render::text::{fmt_int, money, pct};
use crate::words::Words;

use super::doc::{num, strong, text, Section, Table};
use super::Report;

/// Terminals shown in the lost-sales table (by_terminal.csv has them all).
pub const LOST_TERMINALS_SHOWN: usize = 10;

pub fn section(r: &Report) -> Section {
    let w = Words::new(r.lang);
    let b = &r.beyond;
    let cur = r.totals.currency.single();
    let mut s = Section::new("beyond", w.beyond_heading());
    if b.purchases > 0 {
        s = s.paragraph(w.lost_sales(b, r.headline.transactions, r.headline.failure_rate, cur));
        let mut worst: Vec<(&String, &crate::analyze::beyond::TerminalExtra)> = b
            .by_terminal
            .iter()
            .filter(|(_, x)| x.lost_purchases > 0)
            .collect();
        worst.sort_by(|x, y| {
            y.1.lost_amount_minor
                .cmp(&x.1.lost_amount_minor)
                .then(x.0.cmp(y.0))
        });
        if !worst.is_empty() {
            let mut t = Table::new(&w.lost_columns());
            let merchant_of = |id: &str| {
                r.terminals
                    .iter()
                    .find(|t| t.terminal_id == id)
                    .map(|t| t.merchant_id.clone())
                    .unwrap_or_default()
            };
            for (id, x) in worst.iter().take(LOST_TERMINALS_SHOWN) {
                t.rows.push(vec![
                    strong(id.as_str()),
                    text(merchant_of(id)),
                    num(format!(
                        "{} / {}",
                        fmt_int(x.lost_purchases),
                        fmt_int(x.purchases)
                    )),
                    num(money(x.lost_amount_minor, cur)),
                    num(pct(crate::analyze::ratio(x.lost_purchases, x.purchases))),
                ]);
            }
            s = s.table(t);
        }
    }
    if b.chip_reads + b.fallbacks > 0 {
        s = if b.fallback_warnings.is_empty() {
            s.paragraph(w.no_fallback_warning(b.fallback_baseline))
        } else {
            s.paragraph(w.fallback_warnings_intro()).list(
                b.fallback_warnings
                    .iter()
                    .map(|f| w.fallback_warning(f))
                    .collect(),
            )
        };
    }
    if let (Some(p50), Some(p95)) = (b.latency_p50_ms, b.latency_p95_ms) {
        s = s.paragraph(w.fleet_latency(p50, p95, b.timed));
        s = if b.slow_terminals.is_empty() {
            s.paragraph(w.no_slow_terminal())
        } else {
            s.paragraph(w.slow_terminals_intro()).list(
                b.slow_terminals
                    .iter()
                    .map(|t| w.slow_terminal(t))
                    .collect(),
            )
        };
    }
    s
}
