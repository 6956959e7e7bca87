//! Markdown for a [`Document`] (for tickets, e-mail, git): the same sections, rows and words
//! as the HTML page, because both read the same document. Charts are linked, not inlined.

use std::fmt::Write;

use crate::report::doc::{Block, Cell, Document};

/// Markdown table cells must not break the table: escape pipes and flatten newlines.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn table_cell(c: &Cell) -> String {
    match c {
        Cell::Text(s) | Cell::Num(s) => cell(s),
        Cell::Badge { text, .. } => cell(text),
        Cell::Strong(s) => format!("**{}**", cell(s)),
        Cell::Hash(s) => format!("`{}`", cell(s)),
        Cell::Link { text, href } => format!("[{}]({})", cell(text), href.replace(' ', "%20")),
    }
}

pub fn render(d: &Document) -> Vec<u8> {
    let mut m = String::new();
    let _ = writeln!(m, "# {}\n", d.title);
    let _ = writeln!(m, "{}\n", d.subtitle);
    if !d.cards.is_empty() {
        let cards: Vec<String> = d
            .cards
            .iter()
            .map(|c| format!("**{}** {}", c.value, c.label))
            .collect();
        let _ = writeln!(m, "{}\n", cards.join(" · "));
    }
    for s in &d.sections {
        let _ = writeln!(m, "## {}\n", s.heading);
        for b in &s.blocks {
            match b {
                Block::Paragraph { text } => {
                    let _ = writeln!(m, "{text}\n");
                }
                Block::Note { text } => {
                    let _ = writeln!(m, "{}\n", text.trim());
                }
                Block::Alert { text } => {
                    let _ = writeln!(m, "> **{}**\n", text.trim());
                }
                Block::List { items } => {
                    for i in items {
                        let _ = writeln!(m, "- {}", cell(i));
                    }
                    m.push('\n');
                }
                Block::Table(t) => {
                    let labels: Vec<String> = t.columns.iter().map(|c| cell(&c.label)).collect();
                    let _ = writeln!(m, "| {} |", labels.join(" | "));
                    let align: Vec<&str> = t
                        .columns
                        .iter()
                        .map(|c| if c.numeric { "---:" } else { "---" })
                        .collect();
                    let _ = writeln!(m, "|{}|", align.join("|"));
                    for row in &t.rows {
                        let cells: Vec<String> = row.iter().map(table_cell).collect();
                        let _ = writeln!(m, "| {} |", cells.join(" | "));
                    }
                    m.push('\n');
                }
                Block::Chart { path, caption, .. } => {
                    let _ = writeln!(m, "![{}]({})\n", cell(caption), path);
                }
            }
        }
    }
    m.into_bytes()
}
