//! `report.html`: one self-contained page (inline CSS and SVG, no external requests). Every
//! piece of data goes through [`esc`]; the charts are our own SVG.

use std::fmt::Write;

use crate::classify::Class;
use crate::report::Report;

use super::charts::class_hex;
use super::text::{fmt_int, pct, Words};

/// Escape text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans CJK SC','Microsoft YaHei',sans-serif;max-width:1180px;margin:24px auto;padding:0 20px;color:#222;line-height:1.45}
h1{font-size:26px;margin-bottom:4px}h2{font-size:20px;margin-top:34px;border-bottom:2px solid #eee;padding-bottom:4px}
.sub{color:#666;margin-top:0}.cards{display:flex;gap:14px;flex-wrap:wrap;margin:18px 0}
.card{border:1px solid #e3e3e3;border-radius:8px;padding:12px 16px;min-width:150px;background:#fafafa}
.card .v{font-size:24px;font-weight:600}.card .k{color:#666;font-size:13px}
.card.bad{border-color:#d53e00;background:#fff4ef}
table{border-collapse:collapse;width:100%;font-size:14px;margin:8px 0}th,td{padding:6px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.n{text-align:right;font-variant-numeric:tabular-nums}
.pill{display:inline-block;border-radius:10px;padding:0 8px;color:#fff;font-size:12px}
.flag{background:#d53e00}.ok{background:#2e8b57}.insufficient_data{background:#999}
.note{color:#555;font-size:14px}svg{max-width:100%;height:auto}.chart{margin:12px 0}";

/// One of our own SVG charts, inline (no external request).
fn inline_chart(charts: &[(String, Vec<u8>)], name: &str) -> String {
    charts
        .iter()
        .find(|(n, _)| n == name)
        .map(|(n, b)| {
            format!(
                "<div class=\"chart\" id=\"{}\">{}</div>\n",
                esc(n),
                String::from_utf8_lossy(b)
            )
        })
        .unwrap_or_default()
}

/// Render the whole page.
pub fn render(r: &Report, charts: &[(String, Vec<u8>)]) -> Vec<u8> {
    let w = Words::new(r.lang);
    let mut h = String::new();
    let _ = writeln!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body>",
        if w.zh { "zh" } else { "en" },
        esc(w.title)
    );
    let _ = writeln!(
        h,
        "<h1>{}</h1><p class=\"sub\">{} {} → {} ({}) · {} {} · {} {}</p>",
        esc(w.title),
        esc(w.data_label),
        esc(&r.data_from),
        esc(&r.data_to),
        esc(&r.time_zone),
        esc(w.profile_label),
        esc(&r.profile),
        esc(w.generated_label),
        esc(&r.generated_at)
    );

    // Headline cards.
    let hl = &r.headline;
    h.push_str("<div class=\"cards\">");
    for (k, v, bad) in [
        (w.transactions, fmt_int(hl.transactions), false),
        (w.failure_rate, pct(hl.failure_rate), false),
        (w.terminal_fault_rate, pct(hl.terminal_fault_rate), false),
        (
            w.flagged_terminals,
            fmt_int(hl.flagged_terminals),
            hl.flagged_terminals > 0,
        ),
        (
            w.outages,
            fmt_int(r.outages.len() as u64),
            !r.outages.is_empty(),
        ),
        (
            w.rows_rejected,
            fmt_int(hl.rows_rejected),
            hl.rows_rejected > 0,
        ),
    ] {
        let _ = write!(
            h,
            "<div class=\"card{}\"><div class=\"v\">{}</div><div class=\"k\">{}</div></div>",
            if bad { " bad" } else { "" },
            esc(&v),
            esc(k)
        );
    }
    h.push_str("</div>\n");
    let _ = writeln!(h, "<p>{}</p>", esc(&w.summary_sentence(r)));

    // Flagged terminals first: it is what an acquirer opens the report for.
    let _ = writeln!(h, "<h2>{}</h2>", esc(w.flagged_heading));
    if r.flagged.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", esc(w.no_flags));
    } else {
        let _ = writeln!(h, "<p class=\"note\">{}</p>", esc(&w.flag_method(r)));
        h.push_str("<table><tr>");
        for c in w.flag_columns {
            let _ = write!(h, "<th>{}</th>", esc(c));
        }
        h.push_str("</tr>\n");
        for f in &r.flagged {
            let _ = writeln!(
                h,
                "<tr><td><b>{}</b></td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&f.terminal_id),
                esc(&f.merchant_id),
                fmt_int(f.transactions),
                fmt_int(f.terminal_faults),
                pct(f.terminal_fault_rate),
                esc(&f.first_bad_label),
                esc(&f.top_codes.replace(';', ", ")),
                esc(&f.reason)
            );
        }
        h.push_str("</table>\n");
    }

    h.push_str(&inline_chart(charts, "worst_terminals.svg"));
    h.push_str(&inline_chart(charts, "terminal_heatmap.svg"));

    // Charts.
    let _ = writeln!(h, "<h2>{}</h2>", esc(w.over_time_heading));
    h.push_str(&inline_chart(charts, "failure_rate_over_time.svg"));

    // Why transactions failed.
    let _ = write!(h, "<h2>{}</h2>\n<table><tr>", esc(w.classes_heading));
    for c in w.class_columns {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr>\n");
    for c in &r.classes {
        let _ = writeln!(
            h,
            "<tr><td><span class=\"pill\" style=\"background:{}\">{}</span> {}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            class_hex(c.class),
            esc(c.class.name()),
            esc(&c.label),
            fmt_int(c.transactions),
            pct(c.share),
            esc(w.class_who(c.class))
        );
    }
    h.push_str("</table>\n");

    // Top codes with meaning and action.
    let _ = write!(h, "<h2>{}</h2>\n<table><tr>", esc(w.codes_heading));
    for c in w.code_columns {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr>\n");
    for c in r
        .codes
        .iter()
        .filter(|c| c.class != Class::Approved)
        .take(15)
    {
        let _ = writeln!(
            h,
            "<tr><td><b>{}</b></td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&c.response_code),
            esc(c.class.name()),
            esc(&c.meaning),
            fmt_int(c.transactions),
            esc(&c.action)
        );
    }
    h.push_str("</table>\n");
    h.push_str(&inline_chart(charts, "top_codes.svg"));
    if !r.unknown_codes.is_empty() {
        let list: Vec<String> = r
            .unknown_codes
            .iter()
            .map(|(c, n)| format!("{c} ({n})"))
            .collect();
        let _ = writeln!(
            h,
            "<p class=\"note\">{} {}</p>",
            esc(w.unknown_note),
            esc(&list.join(", "))
        );
    }

    // Outages and fraud bursts.
    let _ = writeln!(h, "<h2>{}</h2>", esc(w.outages_heading));
    if r.outages.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", esc(w.no_outages));
    } else {
        h.push_str("<table><tr>");
        for c in w.outage_columns {
            let _ = write!(h, "<th>{}</th>", esc(c));
        }
        h.push_str("</tr>\n");
        for o in &r.outages {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{} / {}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&o.label),
                o.hours,
                fmt_int(o.network_failures),
                fmt_int(o.transactions),
                pct(o.network_failure_rate),
                o.terminals_hit
            );
        }
        h.push_str("</table>\n");
        let _ = writeln!(h, "<p class=\"note\">{}</p>", esc(w.outage_note));
    }
    if !r.fraud_bursts.is_empty() {
        let _ = write!(h, "<h2>{}</h2>\n<ul>", esc(w.bursts_heading));
        for b in &r.fraud_bursts {
            let _ = write!(h, "<li>{}</li>", esc(&w.burst(b)));
        }
        h.push_str("</ul>\n");
    }

    if !r.regressions.is_empty() {
        let _ = writeln!(h, "<h2>{}</h2>\n<table><tr>", esc(w.regressions_heading));
        for c in w.regression_columns {
            let _ = write!(h, "<th>{}</th>", esc(c));
        }
        h.push_str("</tr>\n");
        for g in &r.regressions {
            let _ = writeln!(
                h,
                "<tr><td>{} <b>{}</b></td><td>{} → {}</td><td class=\"n\">{} ({} / {})</td><td class=\"n\">{} ({} / {})</td><td>{}</td><td class=\"n\">{:.1e}</td></tr>",
                esc(g.kind),
                esc(&g.id),
                esc(&g.previous_week),
                esc(&g.week),
                pct(g.failure_rate_before),
                fmt_int(g.failures_before),
                fmt_int(g.transactions_before),
                pct(g.failure_rate),
                fmt_int(g.failures),
                fmt_int(g.transactions),
                esc(g.main_class.label(w.zh)),
                g.p_value
            );
        }
        h.push_str("</table>\n");
    }

    // Terminals table (worst first, capped for readability; the CSV has them all).
    let _ = write!(h, "<h2>{}</h2>\n<table><tr>", esc(w.terminals_heading));
    for c in w.terminal_columns {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr>\n");
    let mut terms: Vec<_> = r.terminals.iter().collect();
    terms.sort_by(|a, b| {
        b.terminal_fault_rate
            .total_cmp(&a.terminal_fault_rate)
            .then(a.terminal_id.cmp(&b.terminal_id))
    });
    for t in terms.iter().take(40) {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{} – {}</td><td><span class=\"pill {}\">{}</span></td></tr>",
            esc(&t.terminal_id),
            esc(&t.merchant_id),
            fmt_int(t.counts.transactions),
            pct(t.failure_rate),
            pct(t.terminal_fault_rate),
            pct(t.fault_ci_low),
            pct(t.fault_ci_high),
            if t.status == crate::analyze::Status::Flagged { "flag" } else { t.status.name() },
            esc(w.status(t.status))
        );
    }
    h.push_str("</table>\n");
    if r.terminals.len() > 40 {
        let _ = writeln!(
            h,
            "<p class=\"note\">{}</p>",
            esc(&w.more_in_csv(r.terminals.len()))
        );
    }

    // Data quality.
    let _ = writeln!(
        h,
        "<h2>{}</h2>\n<p>{}</p>",
        esc(w.data_heading),
        esc(&w.reconciliation(r))
    );
    let _ = writeln!(h, "<p class=\"note\">{}</p>", esc(&w.catalog_note(r)));
    if !r.reject_reasons.is_empty() {
        h.push_str("<ul>");
        for (reason, n) in &r.reject_reasons {
            let _ = write!(h, "<li>{}: {}</li>", esc(reason), fmt_int(*n));
        }
        h.push_str("</ul>\n");
    }
    // Per input, for auditors: the reconciliation and the hash that identifies the file.
    h.push_str("<table><tr>");
    for c in w.input_columns {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr>\n");
    for i in &r.inputs {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td><code title=\"{}\">{}…</code></td></tr>",
            esc(&i.path),
            fmt_int(i.rows_read),
            fmt_int(i.rows_accepted),
            fmt_int(i.rows_rejected),
            fmt_int(i.rows_duplicate),
            esc(&i.sha256),
            esc(i.sha256.get(..16).unwrap_or(&i.sha256))
        );
    }
    h.push_str("</table>\n");
    h.push_str("</body></html>\n");
    h.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
    }
}
