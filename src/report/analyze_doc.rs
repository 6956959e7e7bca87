//! The `analyze` report (`report.html`, `report.md`) as a [`Document`]: which sections, in
//! which order, which rows of each table (the first 15 failure codes, the 40 worst terminals)
//! and in which words. The renderers draw exactly this.

use crate::analyze::Status;
use crate::classify::Class;
use crate::render::text::{fmt_int, pct};
use crate::words::Words;

use super::doc::{num, strong, text, Card, Cell, Document, Section, Table, Tone};
use super::Report;

/// Failure codes shown in the codes table (the CSV has them all).
pub const CODES_SHOWN: usize = 15;
/// Terminals shown in the terminals table (the CSV has them all).
pub const TERMINALS_SHOWN: usize = 40;

pub fn document(r: &Report) -> Document {
    let w = Words::new(r.lang);
    Document {
        lang: r.lang,
        title: w.title.to_string(),
        subtitle: format!(
            "{} {} → {} ({}) · {} {} · {} {}",
            w.data_label,
            r.data_from,
            r.data_to,
            r.time_zone,
            w.profile_label,
            r.profile,
            w.generated_label,
            r.generated_at
        ),
        cards: cards(r, &w),
        sections: vec![
            Section::new("summary", w.summary_heading()).paragraph(w.summary_sentence(r)),
            flagged(r, &w),
            Section::new("over_time", w.over_time_heading).chart(
                "failure_rate_over_time.svg",
                "charts/failure_rate_over_time.svg",
                w.chart().over_time,
            ),
            cohorts(r, &w),
            silent(r, &w),
            incidents(r, &w),
            classes(r, &w),
            codes(r, &w),
            outages(r, &w),
            bursts(r, &w),
            regressions(r, &w),
            super::beyond_doc::section(r),
            terminals(r, &w),
            data_quality(r, &w),
        ]
        .into_iter()
        .filter(|s| !s.blocks.is_empty())
        .collect(),
    }
}

fn cards(r: &Report, w: &Words) -> Vec<Card> {
    let hl = &r.headline;
    [
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
            fmt_int(r.incidents.len() as u64),
            !r.incidents.is_empty(),
        ),
        (
            w.rows_rejected,
            fmt_int(hl.rows_rejected),
            hl.rows_rejected > 0,
        ),
    ]
    .into_iter()
    .map(|(label, value, alert)| Card {
        value,
        label: label.to_string(),
        alert,
    })
    .collect()
}

/// The fitted null of each cohort, and the cohorts that run hot.
fn cohorts(r: &Report, w: &Words) -> Section {
    let by_model = r.cohort_models.iter().any(|m| m.field != "fleet");
    let mut s = Section::new("cohorts", w.cohorts_heading(by_model));
    if r.cohort_models.is_empty() {
        return s;
    }
    for c in crate::analyze::cohorts::hot(&r.cohorts) {
        s = s.paragraph(w.hot_cohort(c));
    }
    let cols = w.model_columns();
    let mut t = Table::aligned(&cols, "lrrrrr");
    for m in &r.cohort_models {
        t.rows.push(vec![
            strong(&m.cohort),
            num(fmt_int(m.judged)),
            num(pct(m.mean)),
            // Without spread beyond chance every healthy terminal has the mean: one binomial
            // rate, no Beta to quote.
            num(if m.rho > 0.0 {
                format!("{} – {}", pct(m.rate_p05), pct(m.rate_p95))
            } else {
                w.no_spread().to_string()
            }),
            num(if m.rho > 0.0 {
                format!("{:.1} / {}", m.alpha, fmt_int(m.beta.round() as u64))
            } else {
                "—".to_string()
            }),
            num(fmt_int(m.flagged)),
        ]);
    }
    s.table(t)
}

fn silent(r: &Report, w: &Words) -> Section {
    let mut s = Section::new("silent", w.silent_heading());
    if r.silent.is_empty() {
        return s;
    }
    s = s.note(w.silent_note());
    let cols = w.silent_columns();
    let mut t = Table::aligned(&cols, "lllrrr");
    for x in &r.silent {
        t.rows.push(vec![
            strong(&x.terminal_id),
            text(&x.merchant_id),
            text(w.silent_status(&x.status)),
            text(&x.since_label),
            num(format!("{:.1}", x.expected_per_day)),
            num(format!("{:.1}", x.seen_per_day)),
        ]);
    }
    s.table(t)
}

/// Incidents besides the network outages of the fleet (which have their own section).
fn incidents(r: &Report, w: &Words) -> Section {
    let mut s = Section::new("incidents", w.incidents_heading());
    for i in r
        .incidents
        .iter()
        .filter(|i| !(i.scope == "fleet" && i.class == "network"))
    {
        s = s.paragraph(w.incident(i));
    }
    s
}

/// Flagged terminals first: it is what an acquirer opens the report for.
fn flagged(r: &Report, w: &Words) -> Section {
    let mut s = Section::new("flagged", w.flagged_heading);
    if r.flagged.is_empty() {
        s = s.paragraph(w.no_flags);
    } else {
        s = s.note(w.flag_method(r));
        let c = w.flag_columns;
        let mut t = Table::aligned(&c, "llrrrlll");
        for f in &r.flagged {
            t.rows.push(vec![
                strong(&f.terminal_id),
                text(&f.merchant_id),
                num(fmt_int(f.transactions)),
                num(fmt_int(f.terminal_faults)),
                num(pct(f.terminal_fault_rate)),
                text(&f.first_bad_label),
                text(f.top_codes.replace(';', ", ")),
                text(&f.reason),
            ]);
        }
        s = s.table(t);
    }
    let chart = w.chart();
    s.chart(
        "worst_terminals.svg",
        "charts/worst_terminals.svg",
        chart.worst_terminals,
    )
    .chart(
        "terminal_heatmap.svg",
        "charts/terminal_heatmap.svg",
        chart.heatmap,
    )
}

fn classes(r: &Report, w: &Words) -> Section {
    let c = w.class_columns;
    let mut t = Table::aligned(&c, "lrrl");
    for line in &r.classes {
        t.rows.push(vec![
            Cell::Badge {
                text: format!("{} · {}", line.class.name(), line.label),
                tone: Tone::Class(line.class),
            },
            num(fmt_int(line.transactions)),
            num(pct(line.share)),
            text(w.class_who(line.class)),
        ]);
    }
    Section::new("classes", w.classes_heading).table(t)
}

fn codes(r: &Report, w: &Words) -> Section {
    let c = w.code_columns;
    let mut t = Table::aligned(&c, "lllrl");
    for code in r
        .codes
        .iter()
        .filter(|c| c.class != Class::Approved)
        .take(CODES_SHOWN)
    {
        t.rows.push(vec![
            strong(&code.response_code),
            Cell::Badge {
                text: code.class.name().to_string(),
                tone: Tone::Class(code.class),
            },
            text(&code.meaning),
            num(fmt_int(code.transactions)),
            text(&code.action),
        ]);
    }
    let mut s = Section::new("codes", w.codes_heading).table(t).chart(
        "top_codes.svg",
        "charts/top_codes.svg",
        w.chart().top_codes,
    );
    if !r.unknown_codes.is_empty() {
        let list: Vec<String> = r
            .unknown_codes
            .iter()
            .map(|(c, n)| format!("{c} ({n})"))
            .collect();
        s = s.note(format!("{} {}", w.unknown_note, list.join(", ")));
    }
    s
}

fn outages(r: &Report, w: &Words) -> Section {
    let s = Section::new("outages", w.outages_heading);
    if r.outages.is_empty() {
        return s.paragraph(w.no_outages);
    }
    let c = w.outage_columns;
    let mut t = Table::aligned(&c, "lrrrr");
    for o in &r.outages {
        t.rows.push(vec![
            text(&o.label),
            num(o.hours.to_string()),
            num(format!(
                "{} / {}",
                fmt_int(o.network_failures),
                fmt_int(o.transactions)
            )),
            num(pct(o.network_failure_rate)),
            num(o.terminals_hit.to_string()),
        ]);
    }
    s.table(t).note(w.outage_note)
}

fn bursts(r: &Report, w: &Words) -> Section {
    Section::new("fraud_bursts", w.bursts_heading)
        .list(r.fraud_bursts.iter().map(|b| w.burst(b)).collect())
}

fn regressions(r: &Report, w: &Words) -> Section {
    let s = Section::new("regressions", w.regressions_heading);
    if r.regressions.is_empty() {
        return s;
    }
    let c = w.regression_columns;
    let mut t = Table::aligned(&c, "llrrlr");
    for g in &r.regressions {
        t.rows.push(vec![
            strong(format!("{} {}", w.entity_kind(g.kind), g.id)),
            text(format!("{} → {}", g.previous_week, g.week)),
            num(format!(
                "{} ({} / {})",
                pct(g.failure_rate_before),
                fmt_int(g.failures_before),
                fmt_int(g.transactions_before)
            )),
            num(format!(
                "{} ({} / {})",
                pct(g.failure_rate),
                fmt_int(g.failures),
                fmt_int(g.transactions)
            )),
            text(g.main_class.label(w.zh)),
            num(format!("{:.1e}", g.p_value)),
        ]);
    }
    s.table(t)
}

/// Worst terminal-error rate first, capped for readability (the CSV has them all).
fn terminals(r: &Report, w: &Words) -> Section {
    let c = w.terminal_columns;
    let mut t = Table::aligned(&c, "llrrrrl");
    let mut terms: Vec<_> = r.terminals.iter().collect();
    terms.sort_by(|a, b| {
        b.terminal_fault_rate
            .total_cmp(&a.terminal_fault_rate)
            .then(a.terminal_id.cmp(&b.terminal_id))
    });
    for term in terms.iter().take(TERMINALS_SHOWN) {
        t.rows.push(vec![
            text(&term.terminal_id),
            text(&term.merchant_id),
            num(fmt_int(term.counts.transactions)),
            num(pct(term.failure_rate)),
            num(pct(term.terminal_fault_rate)),
            num(format!(
                "{} – {}",
                pct(term.fault_ci_low),
                pct(term.fault_ci_high)
            )),
            Cell::Badge {
                text: w.status(term.status).to_string(),
                tone: Tone::Status(term.status),
            },
        ]);
    }
    let mut s = Section::new("terminals", w.terminals_heading).table(t);
    if r.terminals.len() > TERMINALS_SHOWN {
        s = s.note(w.more_in_csv(TERMINALS_SHOWN, r.terminals.len()));
    }
    if r.terminals
        .iter()
        .any(|t| t.status == Status::InsufficientData)
    {
        s = s.note(w.insufficient_note());
    }
    s
}

/// Reconciliation, code tables, reject reasons and every input with its hash, for auditors.
fn data_quality(r: &Report, w: &Words) -> Section {
    let s = Section::new("data_quality", w.data_heading)
        .paragraph(w.reconciliation(r))
        .note(w.catalog_note(r))
        .list(
            r.reject_reasons
                .iter()
                .map(|(reason, n)| format!("{reason}: {}", fmt_int(*n)))
                .collect(),
        );
    let c = w.input_columns;
    let mut t = Table::aligned(&c, "lrrrrl");
    for i in &r.inputs {
        t.rows.push(vec![
            text(&i.path),
            num(fmt_int(i.rows_read)),
            num(fmt_int(i.rows_accepted)),
            num(fmt_int(i.rows_rejected)),
            num(fmt_int(i.rows_duplicate)),
            Cell::Hash(i.sha256.clone()),
        ]);
    }
    s.table(t)
}
