//! `report.md`: the same story as the HTML page, in Markdown (for tickets, e-mail, git).

use std::fmt::Write;

use crate::classify::Class;
use crate::report::Report;

use super::text::{fmt_int, pct, Words};

/// Markdown table cells must not break the table: escape pipes and flatten newlines.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

pub fn render(r: &Report) -> Vec<u8> {
    let w = Words::new(r.lang);
    let mut m = String::new();
    let _ = writeln!(m, "# {}\n", w.title);
    let _ = writeln!(
        m,
        "{} {} → {} ({}) · {} {}\n",
        w.data_label, r.data_from, r.data_to, r.time_zone, w.profile_label, r.profile
    );
    let _ = writeln!(m, "{}\n", w.summary_sentence(r));

    let _ = writeln!(m, "## {}\n", w.flagged_heading);
    if r.flagged.is_empty() {
        let _ = writeln!(m, "{}\n", w.no_flags);
    } else {
        let _ = writeln!(m, "{}\n", w.flag_method(r));
        let _ = writeln!(m, "| {} |", w.flag_columns.join(" | "));
        let _ = writeln!(m, "|{}", "---|".repeat(w.flag_columns.len()));
        for f in &r.flagged {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&f.terminal_id),
                cell(&f.merchant_id),
                fmt_int(f.transactions),
                fmt_int(f.terminal_faults),
                pct(f.terminal_fault_rate),
                f.first_bad_label,
                cell(&f.top_codes.replace(';', ", ")),
                cell(&f.reason)
            );
        }
        m.push('\n');
    }

    let _ = writeln!(m, "## {}\n", w.over_time_heading);
    let _ = writeln!(
        m,
        "![failure rate over time](charts/failure_rate_over_time.svg)\n"
    );

    let _ = writeln!(m, "## {}\n", w.classes_heading);
    let _ = writeln!(m, "| {} |", w.class_columns.join(" | "));
    let _ = writeln!(m, "|{}", "---|".repeat(w.class_columns.len()));
    for c in &r.classes {
        let _ = writeln!(
            m,
            "| {} ({}) | {} | {} | {} |",
            c.label,
            c.class.name(),
            fmt_int(c.transactions),
            pct(c.share),
            w.class_who(c.class)
        );
    }
    m.push('\n');

    let _ = writeln!(m, "## {}\n", w.codes_heading);
    let _ = writeln!(m, "| {} |", w.code_columns.join(" | "));
    let _ = writeln!(m, "|{}", "---|".repeat(w.code_columns.len()));
    for c in r
        .codes
        .iter()
        .filter(|c| c.class != Class::Approved)
        .take(15)
    {
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} |",
            cell(&c.response_code),
            c.class.name(),
            cell(&c.meaning),
            fmt_int(c.transactions),
            cell(&c.action)
        );
    }
    m.push('\n');
    if !r.unknown_codes.is_empty() {
        let list: Vec<String> = r
            .unknown_codes
            .iter()
            .map(|(c, n)| format!("{} ({n})", cell(c)))
            .collect();
        let _ = writeln!(m, "{} {}\n", w.unknown_note, list.join(", "));
    }

    let _ = writeln!(m, "## {}\n", w.outages_heading);
    if r.outages.is_empty() {
        let _ = writeln!(m, "{}\n", w.no_outages);
    } else {
        let _ = writeln!(m, "| {} |", w.outage_columns.join(" | "));
        let _ = writeln!(m, "|{}", "---|".repeat(w.outage_columns.len()));
        for o in &r.outages {
            let _ = writeln!(
                m,
                "| {} | {} | {} / {} | {} | {} |",
                o.label,
                o.hours,
                fmt_int(o.network_failures),
                fmt_int(o.transactions),
                pct(o.network_failure_rate),
                o.terminals_hit
            );
        }
        let _ = writeln!(m, "\n{}\n", w.outage_note);
    }
    if !r.fraud_bursts.is_empty() {
        let _ = writeln!(m, "## {}\n", w.bursts_heading);
        for b in &r.fraud_bursts {
            let _ = writeln!(m, "- {}", cell(&w.burst(b)));
        }
        m.push('\n');
    }

    if !r.regressions.is_empty() {
        let _ = writeln!(m, "## {}\n", w.regressions_heading);
        let _ = writeln!(m, "| {} |", w.regression_columns.join(" | "));
        let _ = writeln!(m, "|{}", "---|".repeat(w.regression_columns.len()));
        for g in &r.regressions {
            let _ = writeln!(
                m,
                "| {} {} | {} → {} | {} ({}/{}) | {} ({}/{}) | {} | {:.1e} |",
                g.kind,
                cell(&g.id),
                g.previous_week,
                g.week,
                pct(g.failure_rate_before),
                g.failures_before,
                g.transactions_before,
                pct(g.failure_rate),
                g.failures,
                g.transactions,
                g.main_class.label(w.zh),
                g.p_value
            );
        }
        m.push('\n');
    }

    let _ = writeln!(m, "## {}\n\n{}\n", w.data_heading, w.reconciliation(r));
    let _ = writeln!(m, "{}\n", cell(&w.catalog_note(r)));
    for (reason, n) in &r.reject_reasons {
        let _ = writeln!(m, "- {}: {}", cell(reason), fmt_int(*n));
    }
    let _ = writeln!(m, "\n| {} |", w.input_columns.join(" | "));
    let _ = writeln!(m, "|{}", "---|".repeat(w.input_columns.len()));
    for i in &r.inputs {
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | `{}` |",
            cell(&i.path),
            fmt_int(i.rows_read),
            fmt_int(i.rows_accepted),
            fmt_int(i.rows_rejected),
            fmt_int(i.rows_duplicate),
            i.sha256
        );
    }
    m.into_bytes()
}
