//! `poslens codes`: the catalog as a merchant reads it (text), or as data (JSON, CSV).

use std::fmt::Write;

use serde::Serialize;

use crate::classify::{self, Catalog, Entry};
use crate::error::{Error, Result};

/// Display width: CJK characters take two columns in a terminal.
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            if ('\u{1100}'..='\u{ffdc}').contains(&c) && !('\u{2000}'..='\u{2fff}').contains(&c) {
                2
            } else {
                1
            }
        })
        .sum()
}

fn pad(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(width(s))))
}

/// One code, explained in full.
pub fn explain(cat: &Catalog, e: &Entry, zh: bool) -> String {
    let t = e.text(zh);
    let who: Vec<&str> = e.who.iter().map(|w| w.label(zh)).collect();
    let mut s = String::new();
    let w = crate::words::code_words(zh);
    let _ = writeln!(s, "{} — {}", e.code, t.meaning);
    let _ = writeln!(s, "{}: {} ({})", w.class, e.class.name(), e.class.label(zh));
    let _ = writeln!(s, "{}: {}", w.who, who.join(", "));
    let _ = writeln!(s, "{}: {}", w.retry, if e.retry { w.yes } else { w.no });
    if !t.causes.is_empty() {
        let _ = writeln!(s, "{}:", w.causes);
        for c in &t.causes {
            let _ = writeln!(s, "  - {c}");
        }
    }
    let _ = writeln!(s, "{}: {}", w.action, t.action);
    if !t.readings.is_empty() {
        let _ = writeln!(s, "{}:", w.readings);
        for r in &t.readings {
            let _ = writeln!(s, "  - {r}");
        }
    }
    if let Some(c) = &e.cup_class {
        let label = cat
            .cup_classes
            .get(c)
            .map(|l| if zh { l.zh.as_str() } else { l.en.as_str() })
            .unwrap_or("");
        let _ = writeln!(s, "{}: {c} {label}", w.cup_class);
    }
    let _ = writeln!(s, "{}: {}", w.source, e.source);
    s
}

/// The line after an explanation that says why a 3-digit code was read with the ISO
/// 8583:1993 table (the default profile picks the table by the code's shape).
pub fn action_code_note(cat: &Catalog, code: &str, zh: bool) -> String {
    if !(cat.reads_action_codes() && cat.table_of(code) == Some("iso8583-1993")) {
        return String::new();
    }
    format!("{}\n", crate::words::code_words(zh).action_code_note)
}

/// For a code the profile lacks: a hint when its shape belongs to another built-in table,
/// e.g. a 3-digit code asked of the 1987 table. Empty when there is nothing to suggest.
pub fn shape_hint(cat: &Catalog, code: &str) -> String {
    let p = cat.profile.as_str();
    match classify::profile_for_shape(code) {
        Some("iso8583-1993") if !cat.reads_action_codes() && p != "iso8583-1993" => {
            ". 3-digit codes are ISO 8583:1993/2003 action codes: use --profile iso8583-1993, or leave --profile out (the default, auto, reads them with that table)".into()
        }
        Some("jpos-cmf") if p != "jpos-cmf" => {
            ". 4-digit codes may be jPOS CMF result codes: try --profile jpos-cmf".into()
        }
        Some("iso8583") if matches!(p, "iso8583-1993" | "jpos-cmf") => {
            ". 2-character codes are ISO 8583:1987 response codes: use --profile iso8583, or leave --profile out".into()
        }
        _ => String::new(),
    }
}

/// The whole profile as an aligned table.
pub fn table(cat: &Catalog, zh: bool) -> String {
    let w = crate::words::code_words(zh);
    let head = w.table_columns;
    let mut s = format!("{} — {} ({} codes)\n\n", cat.profile, cat.title, cat.len());
    // Codes are 2-4 characters, but `NO_RESPONSE` (issue 12) and user codes can be longer.
    let code_width = cat
        .entries()
        .map(|e| width(&e.code))
        .max()
        .unwrap_or(0)
        .max(6);
    let _ = writeln!(
        s,
        "{} {} {} {}",
        pad(head[0], code_width),
        pad(head[1], 9),
        pad(head[2], 6),
        head[3]
    );
    for e in cat.entries() {
        let retry = if e.retry { w.yes } else { w.no };
        let _ = writeln!(
            s,
            "{} {} {} {}",
            pad(&e.code, code_width),
            pad(e.class.name(), 9),
            pad(retry, 6),
            e.text(zh).meaning
        );
    }
    s
}

#[derive(Serialize)]
struct JsonCatalog<'a> {
    profile: &'a str,
    title: &'a str,
    sources: &'a [String],
    codes: Vec<&'a Entry>,
}

pub fn json(cat: &Catalog, entries: Vec<&Entry>) -> Result<String> {
    let mut s = serde_json::to_string_pretty(&JsonCatalog {
        profile: &cat.profile,
        title: &cat.title,
        sources: &cat.sources,
        codes: entries,
    })
    .map_err(|e| Error::internal("json", e))?;
    s.push('\n');
    Ok(s)
}

pub fn csv(entries: Vec<&Entry>, zh: bool) -> Result<String> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let err = |e: csv::Error| Error::internal("csv", e);
    w.write_record([
        "code", "class", "meaning", "causes", "action", "retry", "who",
    ])
    .map_err(err)?;
    for e in entries {
        let t = e.text(zh);
        let who: Vec<String> = e
            .who
            .iter()
            .map(|w| format!("{w:?}").to_lowercase())
            .collect();
        w.write_record([
            e.code.as_str(),
            e.class.name(),
            &super::csv::safe_text(&t.meaning),
            &super::csv::safe_text(&t.causes.join("; ")),
            &super::csv::safe_text(&t.action),
            if e.retry { "yes" } else { "no" },
            &who.join(";"),
        ])
        .map_err(err)?;
    }
    let bytes = w.into_inner().map_err(|e| Error::internal("csv", e))?;
    String::from_utf8(bytes).map_err(|e| Error::internal("csv", e))
}
