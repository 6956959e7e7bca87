//! The shape every human-readable report takes: a title, headline cards, and sections of
//! paragraphs, tables, lists and charts, already chosen, ordered and worded in the report's
//! language. The analyze report and the merchant weekly report are both built as a
//! [`Document`]; the HTML and Markdown renderers only turn one into bytes, so they cannot
//! disagree on what is shown (they used to pick different rows each).

use serde::Serialize;

use crate::analyze::Status;
use crate::classify::Class;
use crate::config::Lang;

/// A whole report as its reader sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Document {
    pub lang: Lang,
    pub title: String,
    /// One line under the title: data range, time zone, profile, generation time.
    pub subtitle: String,
    pub cards: Vec<Card>,
    pub sections: Vec<Section>,
}

/// A headline figure.
#[derive(Debug, Clone, Serialize)]
pub struct Card {
    pub value: String,
    pub label: String,
    /// Drawn as a warning (e.g. faulty terminals found).
    pub alert: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Section {
    /// A stable anchor (`flagged`, `codes`, …).
    pub id: &'static str,
    pub heading: String,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Block {
    Paragraph {
        text: String,
    },
    /// Secondary text: method, caveats.
    Note {
        text: String,
    },
    /// Text that must not be missed (e.g. "no data for this week").
    Alert {
        text: String,
    },
    List {
        items: Vec<String>,
    },
    Table(Table),
    /// One of the report's SVG charts by file name (inlined in HTML, linked from Markdown at
    /// `path`, relative to the Markdown file).
    Chart {
        name: String,
        path: String,
        caption: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub label: String,
    /// Right-aligned, tabular figures.
    pub numeric: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Cell {
    Text(String),
    /// An id the row is about (terminal, code).
    Strong(String),
    /// A formatted figure.
    Num(String),
    /// A SHA-256 (HTML shortens it, with the full value on hover).
    Hash(String),
    Badge {
        text: String,
        tone: Tone,
    },
    Link {
        text: String,
        href: String,
    },
}

/// What a badge is coloured after: one colour per class and per status, everywhere.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    Class(Class),
    Status(Status),
}

impl Tone {
    /// `#rrggbb`: a status borrows the colour of the class that decides it.
    pub fn hex(self) -> String {
        match self {
            Tone::Class(c) => c.hex(),
            Tone::Status(Status::Flagged) => Class::Terminal.hex(),
            Tone::Status(Status::Ok) => Class::Approved.hex(),
            Tone::Status(Status::InsufficientData) => Class::Unknown.hex(),
        }
    }
}

impl Table {
    pub fn new<S: AsRef<str>>(columns: &[(S, bool)]) -> Table {
        Table {
            columns: columns
                .iter()
                .map(|(label, numeric)| Column {
                    label: label.as_ref().to_string(),
                    numeric: *numeric,
                })
                .collect(),
            rows: Vec::new(),
        }
    }

    /// Columns from their labels and an alignment string, one letter a column: `r` for a
    /// right-aligned figure, `l` for text (`"lrrl"`).
    pub fn aligned<S: AsRef<str>>(labels: &[S], align: &str) -> Table {
        debug_assert_eq!(labels.len(), align.len(), "one alignment letter per column");
        let columns: Vec<(&str, bool)> = labels
            .iter()
            .zip(align.chars())
            .map(|(l, a)| (l.as_ref(), a == 'r'))
            .collect();
        Table::new(&columns)
    }
}

impl Section {
    pub fn new(id: &'static str, heading: &str) -> Section {
        Section {
            id,
            heading: heading.to_string(),
            blocks: Vec::new(),
        }
    }

    pub fn paragraph(mut self, text: impl Into<String>) -> Section {
        self.blocks.push(Block::Paragraph { text: text.into() });
        self
    }

    pub fn note(mut self, text: impl Into<String>) -> Section {
        self.blocks.push(Block::Note { text: text.into() });
        self
    }

    pub fn alert(mut self, text: impl Into<String>) -> Section {
        self.blocks.push(Block::Alert { text: text.into() });
        self
    }

    pub fn list(mut self, items: Vec<String>) -> Section {
        if !items.is_empty() {
            self.blocks.push(Block::List { items });
        }
        self
    }

    pub fn table(mut self, table: Table) -> Section {
        self.blocks.push(Block::Table(table));
        self
    }

    pub fn chart(mut self, name: &str, path: &str, caption: &str) -> Section {
        self.blocks.push(Block::Chart {
            name: name.to_string(),
            path: path.to_string(),
            caption: caption.to_string(),
        });
        self
    }
}

/// Cell shorthands for the builders.
pub fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

pub fn strong(s: impl Into<String>) -> Cell {
    Cell::Strong(s.into())
}

pub fn num(s: impl Into<String>) -> Cell {
    Cell::Num(s.into())
}
