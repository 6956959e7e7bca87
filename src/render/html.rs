//! HTML for a [`Document`]: one self-contained page (inline CSS and SVG, no external
//! requests). It decides nothing about content: every section, row and word comes from the
//! document; this file only turns them into markup. Every piece of data goes through [`esc`].

use std::fmt::Write;

use crate::report::doc::{Block, Cell, Document, Table};

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
.alert{border-left:4px solid #d53e00;background:#fff4ef;padding:10px 14px}
table{border-collapse:collapse;width:100%;font-size:14px;margin:8px 0}th,td{padding:6px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.pill{display:inline-block;border-radius:10px;padding:0 8px;color:#fff;font-size:12px;white-space:nowrap}
.note{color:#555;font-size:14px}svg{max-width:100%;height:auto}.chart{margin:12px 0}";

fn cell(c: &Cell) -> String {
    match c {
        Cell::Text(s) | Cell::Num(s) => esc(s),
        Cell::Strong(s) => format!("<b>{}</b>", esc(s)),
        Cell::Hash(s) => format!(
            "<code title=\"{}\">{}…</code>",
            esc(s),
            esc(s.get(..16).unwrap_or(s))
        ),
        Cell::Badge { text, tone } => format!(
            "<span class=\"pill\" style=\"background:{}\">{}</span>",
            tone.hex(),
            esc(text)
        ),
        Cell::Link { text, href } => format!("<a href=\"{}\">{}</a>", esc(href), esc(text)),
    }
}

fn table(h: &mut String, t: &Table) {
    h.push_str("<table><tr>");
    for c in &t.columns {
        let class = if c.numeric { " class=\"n\"" } else { "" };
        let _ = write!(h, "<th{class}>{}</th>", esc(&c.label));
    }
    h.push_str("</tr>\n");
    for row in &t.rows {
        h.push_str("<tr>");
        for (i, c) in row.iter().enumerate() {
            let numeric = t.columns.get(i).is_some_and(|c| c.numeric);
            let class = if numeric { " class=\"n\"" } else { "" };
            let _ = write!(h, "<td{class}>{}</td>", cell(c));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

/// The page. `charts`: the SVGs the document's chart blocks name, inlined (no external
/// request); a chart block whose SVG is absent is left out.
pub fn render(d: &Document, charts: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut h = String::new();
    let _ = writeln!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body>",
        if d.lang == crate::config::Lang::Zh { "zh" } else { "en" },
        esc(&d.title)
    );
    let _ = writeln!(
        h,
        "<h1>{}</h1><p class=\"sub\">{}</p>",
        esc(&d.title),
        esc(&d.subtitle)
    );
    if !d.cards.is_empty() {
        h.push_str("<div class=\"cards\">");
        for c in &d.cards {
            let _ = write!(
                h,
                "<div class=\"card{}\"><div class=\"v\">{}</div><div class=\"k\">{}</div></div>",
                if c.alert { " bad" } else { "" },
                esc(&c.value),
                esc(&c.label)
            );
        }
        h.push_str("</div>\n");
    }
    for s in &d.sections {
        let _ = writeln!(
            h,
            "<section id=\"{}\"><h2>{}</h2>",
            esc(s.id),
            esc(&s.heading)
        );
        for b in &s.blocks {
            match b {
                Block::Paragraph { text } => {
                    let _ = writeln!(h, "<p>{}</p>", esc(text));
                }
                Block::Note { text } => {
                    let _ = writeln!(h, "<p class=\"note\">{}</p>", esc(text));
                }
                Block::Alert { text } => {
                    let _ = writeln!(h, "<p class=\"alert\">{}</p>", esc(text));
                }
                Block::List { items } => {
                    h.push_str("<ul>");
                    for i in items {
                        let _ = write!(h, "<li>{}</li>", esc(i));
                    }
                    h.push_str("</ul>\n");
                }
                Block::Table(t) => table(&mut h, t),
                Block::Chart { name, caption, .. } => {
                    if let Some((_, svg)) = charts.iter().find(|(n, _)| n == name) {
                        let _ = writeln!(
                            h,
                            "<figure class=\"chart\" id=\"{}\" aria-label=\"{}\">{}</figure>",
                            esc(name),
                            esc(caption),
                            String::from_utf8_lossy(svg)
                        );
                    }
                }
            }
        }
        h.push_str("</section>\n");
    }
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
