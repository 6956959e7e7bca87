//! Number formatting shared by every human-readable view, and the plain-text outputs printed
//! on the terminal (`analyze` summary, `validate`). Report words live in [`crate::words`].

use crate::report::Report;

/// `1234567` → `1,234,567`.
pub fn fmt_int(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An amount in minor units as money: `¥3,356.82` for a known currency (ISO 4217 code, its
/// exponent), `3,356.82` when the logs mix currencies or carry none (two decimals assumed).
pub fn money(minor: i64, currency: Option<&str>) -> String {
    use crate::ingest::normalize::{EXPONENT_0, EXPONENT_3};
    let code = currency.unwrap_or("");
    let exp = if EXPONENT_0.contains(&code) {
        0
    } else if EXPONENT_3.contains(&code) {
        3
    } else {
        2
    };
    let symbol = match code {
        "CNY" | "JPY" => "¥",
        "USD" => "$",
        "EUR" => "€",
        "GBP" => "£",
        "HKD" => "HK$",
        _ => "",
    };
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    let scale = 10u64.pow(exp);
    let whole = fmt_int(m / scale);
    let number = if exp == 0 {
        whole
    } else {
        format!("{whole}.{:0w$}", m % scale, w = exp as usize)
    };
    match (symbol, code) {
        ("", "") => format!("{sign}{number}"),
        ("", c) => format!("{sign}{number} {c}"),
        (s, _) => format!("{sign}{s}{number}"),
    }
}

/// A rate as a percentage with two decimals.
pub fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

/// The short summary `analyze` prints on the terminal.
pub fn terminal_summary(r: &Report, out: &std::path::Path, cells: usize) -> String {
    use std::fmt::Write;
    let t = &r.totals;
    let h = &r.headline;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "poslens analyze: {} input file(s), {} → {} ({})",
        r.inputs.len(),
        r.data_from,
        r.data_to,
        r.time_zone
    );
    let _ = writeln!(
        s,
        "  rows read {}  = accepted {} + rejected {} + duplicate {}",
        fmt_int(t.rows_read),
        fmt_int(t.rows_accepted),
        fmt_int(t.rows_rejected),
        fmt_int(t.rows_duplicate)
    );
    let _ = writeln!(
        s,
        "  transactions {} on {} terminals ({} cube cells); failure rate {} ({} failed); at the terminal {}",
        fmt_int(h.transactions),
        h.terminals,
        fmt_int(cells as u64),
        pct(h.failure_rate),
        fmt_int(h.failures),
        pct(h.terminal_fault_rate)
    );
    let judged = r
        .terminals
        .iter()
        .any(|t| t.status != crate::analyze::terminals::Status::InsufficientData);
    if !judged {
        let _ = writeln!(
            s,
            "  flagged terminals: none judged (each terminal has fewer transactions than \
             --min-volume; fleet {} terminal errors)",
            pct(r.baseline_rate)
        );
    } else if r.flagged.is_empty() {
        let _ = writeln!(
            s,
            "  flagged terminals: none (baseline {})",
            pct(r.baseline_rate)
        );
    } else {
        let _ = writeln!(
            s,
            "  flagged terminals: {} (fleet baseline {} terminal errors)",
            r.flagged.len(),
            pct(r.baseline_rate)
        );
        for f in &r.flagged {
            let _ = writeln!(
                s,
                "    {:<10} {:<10} {:>6} of {:>6} = {:>6}  since {}  codes {}",
                f.terminal_id,
                f.merchant_id,
                f.terminal_faults,
                f.transactions,
                pct(f.terminal_fault_rate),
                f.first_bad_label,
                f.top_codes
            );
            flag_notes(&mut s, f, 15);
        }
    }
    for c in crate::analyze::cohorts::hot(&r.cohorts) {
        let _ = writeln!(
            s,
            "  {} {} runs hot: {:.1}x the fleet's terminal-error rate across its {} terminals (a {} matter, not {} faulty terminals)",
            c.cohort_field,
            c.cohort,
            c.ratio_to_fleet,
            c.terminals,
            c.cohort_field,
            c.terminals
        );
    }
    for x in &r.silent {
        let _ = writeln!(
            s,
            "  {}: {} ({}) since {}, usually {:.1} a trading day, now {:.1}",
            x.status.replace('_', " "),
            x.terminal_id,
            x.merchant_id,
            x.since_label,
            x.expected_per_day,
            x.seen_per_day
        );
    }
    for i in r
        .incidents
        .iter()
        .filter(|i| i.class != "network" || i.scope != "fleet")
    {
        let _ = writeln!(s, "  incident: {}", incident(i));
    }
    for o in &r.outages {
        let _ = writeln!(
            s,
            "  outage: {} ({} network errors, {} terminals hit)",
            o.label, o.network_failures, o.terminals_hit
        );
    }
    for b in &r.fraud_bursts {
        let _ = writeln!(
            s,
            "  fraud-code burst: {} {} ({} fraud codes in {} transactions)",
            b.terminal_id, b.label, b.fraud, b.transactions
        );
    }
    let b = &r.beyond;
    if b.purchases > 0 {
        let _ = writeln!(
            s,
            "  lost sales: {} of {} purchases ({}; {} of purchases vs {} of attempts failed)",
            fmt_int(b.lost_purchases),
            fmt_int(b.purchases),
            money(b.lost_amount_minor, r.totals.currency.single()),
            pct(b.purchase_failure_rate()),
            pct(h.failure_rate)
        );
    }
    for f in &b.fallback_warnings {
        let _ = writeln!(
            s,
            "  chip fallback warning: {} {} of {} chip-card reads fell back ({} vs fleet {})",
            f.terminal_id,
            fmt_int(f.fallbacks),
            fmt_int(f.chip_reads + f.fallbacks),
            pct(f.fallback_rate),
            pct(f.baseline_rate)
        );
    }
    for t in &b.slow_terminals {
        let _ = writeln!(
            s,
            "  slow terminal: {} median {} ms, p95 {} ms (fleet p95 {} ms)",
            t.terminal_id, t.p50_ms, t.p95_ms, t.fleet_p95_ms
        );
    }
    for g in &r.regressions {
        let _ = writeln!(
            s,
            "  regression: {} {} failure rate {} → {} ({} vs {})",
            g.kind,
            g.id,
            pct(g.failure_rate_before),
            pct(g.failure_rate),
            g.previous_week,
            g.week
        );
    }
    if !r.unknown_codes.is_empty() {
        let list: Vec<String> = r
            .unknown_codes
            .iter()
            .map(|(c, n)| format!("{c} ({n})"))
            .collect();
        let _ = writeln!(s, "  codes not in the catalog: {}", list.join(", "));
    }
    let _ = writeln!(s, "  report: {}", out.join("report.html").display());
    s
}

/// `poslens terminals` as a table for a terminal window.
pub fn terminals_table(list: &crate::report::terminals::TerminalList) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "flagged terminals, {} → {} ({}), fleet baseline {} terminal-side errors; ranked by excess faults",
        list.data_from,
        list.data_to,
        list.time_zone,
        pct(list.baseline_rate)
    );
    if list.terminals.is_empty() {
        let _ = writeln!(s, "none");
    } else {
        flagged_rows(&mut s, list);
    }
    if !list.silent.is_empty() {
        let _ = writeln!(
            s,
            "\nsilent terminals and volume drops (usual and recent transactions per trading day)"
        );
        for x in &list.silent {
            let _ = writeln!(
                s,
                "  {:<12} {:<12} {:<11} since {}  {:>7.1} → {:>6.1}",
                x.terminal_id,
                x.merchant_id,
                x.status,
                x.since_label,
                x.expected_per_day,
                x.seen_per_day
            );
        }
    }
    if !list.incidents.is_empty() {
        let _ = writeln!(s, "\nincidents (counted against no terminal)");
        for i in &list.incidents {
            let _ = writeln!(s, "  {}", incident(i));
        }
    }
    s
}

fn flagged_rows(s: &mut String, list: &crate::report::terminals::TerminalList) {
    use std::fmt::Write;
    let _ = writeln!(
        s,
        "{:>4}  {:<12} {:<12} {:>8} {:>7} {:>7} {:>17} {:>7} {:>10}  {:<10}  top codes",
        "rank",
        "terminal",
        "merchant",
        "txns",
        "faults",
        "rate",
        "95% interval",
        "excess",
        "p-value",
        "bad since"
    );
    for t in &list.terminals {
        let f = &t.flag;
        let _ = writeln!(
            s,
            "{:>4}  {:<12} {:<12} {:>8} {:>7} {:>7} {:>17} {:>7.1} {:>10.2e}  {:<10}  {}",
            t.rank,
            f.terminal_id,
            f.merchant_id,
            f.transactions,
            f.terminal_faults,
            pct(f.terminal_fault_rate),
            format!("{} – {}", pct(t.fault_ci_low), pct(t.fault_ci_high)),
            t.excess_faults,
            f.p_value,
            f.first_bad_label,
            f.top_codes
        );
        flag_notes(s, &t.flag, 6);
    }
}

/// A flag's notes under its line, indented by `indent`: the reader at fault, the recovery.
fn flag_notes(s: &mut String, f: &crate::report::FlagLine, indent: usize) {
    use std::fmt::Write;
    if !f.entry_mode.is_empty() {
        let _ = writeln!(s, "{:indent$}{} reader at fault", "", f.entry_mode);
    }
    if let Some(day) = f.recovered_period.get(..10) {
        let _ = writeln!(s, "{:indent$}healthy again from {day}", "");
    }
}

/// An incident on one line: `2026-11-05 10:00 – 12:00 cards of BIN 622848 network errors, …`.
fn incident(i: &crate::report::IncidentLine) -> String {
    let who = if i.scope == "issuer" {
        format!("cards of BIN {}", i.issuer_bin)
    } else {
        "fleet".to_string()
    };
    format!(
        "{} {} {} errors, codes {} ({} terminals hit)",
        i.label, who, i.class, i.top_codes, i.terminals_hit
    )
}

/// What `validate` prints: reconciliation per input, reject reasons, first examples.
pub fn validation(o: &crate::ingest::IngestOutcome) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<50} {:>10} {:>10} {:>10} {:>10}",
        "input", "read", "accepted", "rejected", "duplicate"
    );
    let mut rows: Vec<&crate::ingest::InputSummary> = o.inputs.iter().collect();
    let t = o.totals();
    let total = crate::ingest::InputSummary {
        path: "TOTAL".into(),
        ..t.clone()
    };
    rows.push(&total);
    for i in rows {
        let _ = writeln!(
            s,
            "{:<50} {:>10} {:>10} {:>10} {:>10}",
            i.path, i.rows_read, i.rows_accepted, i.rows_rejected, i.rows_duplicate
        );
    }
    let ok = t.rows_read == t.rows_accepted + t.rows_rejected + t.rows_duplicate;
    let _ = writeln!(
        s,
        "reconciliation: rows_read {} = accepted + rejected + duplicate: {}",
        t.rows_read,
        if ok { "yes" } else { "NO" }
    );
    // The reconciliation notes: what ingest did to rows besides accepting or rejecting them.
    for (n, what) in [
        (t.events_skipped, "non-transaction log events skipped"),
        (
            t.codes_padded,
            "one-digit response codes read as two digits (5 → 05)",
        ),
        (
            t.amounts_invalid,
            "rows kept without their unreadable amount",
        ),
        (
            t.codes_with_text,
            "response codes given with their text, code taken, text dropped (05-Do not honour → 05)",
        ),
        (
            t.amounts_negative,
            "refunds (negative amounts): counted as transactions, kept out of amount sums",
        ),
        (
            t.requests_unanswered,
            "jPOS requests with no response within 60 s: rows with code NO_RESPONSE",
        ),
        (
            t.requests_pending_at_end,
            "jPOS requests still waiting for a response when the log ended: not counted",
        ),
        (t.reversals, "jPOS reversals"),
        (
            t.reversals_linked,
            "jPOS reversals linked to the transaction they reverse",
        ),
    ] {
        if n > 0 {
            let _ = writeln!(s, "{what}: {n}");
        }
    }
    let reasons = o.reasons();
    if !reasons.is_empty() {
        let _ = writeln!(s, "\nrejected rows by reason:");
        for (reason, n) in &reasons {
            let _ = writeln!(s, "  {n:>8}  {reason}");
            for r in o.rejects.examples().iter().filter(|r| r.kind() == reason) {
                let _ = writeln!(
                    s,
                    "            {}:{}: {} | {}",
                    r.file, r.line, r.reason, r.excerpt
                );
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(fmt_int(0), "0");
        assert_eq!(fmt_int(999), "999");
        assert_eq!(fmt_int(1000), "1,000");
        assert_eq!(fmt_int(1234567), "1,234,567");
        assert_eq!(pct(0.01234), "1.23%");
    }
}
