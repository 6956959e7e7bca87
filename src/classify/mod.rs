//! The response-code catalog: what every code means, which class it falls in, who should act.
//!
//! Catalogs are data (`data/*.toml`, compiled into the binary) with tests beside them. A
//! profile may extend another (`cup` extends `iso8583`); a user file (`--codes`, TOML or CSV)
//! extends or overrides the active profile and may strip a host prefix (`0051` → `51`).
//! Every code maps to exactly one [`Class`]; codes not in the catalog are `unknown`.
//!
//! The default profile, `auto`, holds two tables and picks one by the code's shape: ISO
//! 8583:1987 has no 3-digit codes, so a 3-digit numeric code is an ISO 8583:1993/2003 action
//! code (`000`, `116`, `911`) and is looked up in that table; every other code (`00`, `Y1`,
//! `9997`) in the 1987 one. The message's MTI would say the same (first digit 0 = 1987,
//! 1 = 1993, 2 = 2003), but the shape travels with the code into the cube, so a saved cube is
//! classified the same way. Callers only see [`Catalog::lookup`] and [`Catalog::class_of`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::ingest::normalize::NO_RESPONSE;

const ISO8583: &str = include_str!("data/iso8583.toml");
const CUP: &str = include_str!("data/cup.toml");
const ISO8583_1993: &str = include_str!("data/iso8583-1993.toml");
const JPOS_CMF: &str = include_str!("data/jpos-cmf.toml");

/// The default profile: ISO 8583:1987, with 3-digit codes read as ISO 8583:1993 action codes.
pub const AUTO: &str = "auto";

/// Profile names for messages.
const PROFILE_NAMES: &str =
    "auto (the default), iso8583, iso8583-1993 (or iso8583-2003), jpos-cmf, cup";

/// The files a built-in profile is made of, base first; `None` for any other name.
fn builtin_files(name: &str) -> Option<&'static [(&'static str, &'static str)]> {
    let files: &'static [(&'static str, &'static str)] = match name {
        "iso8583" => &[("iso8583.toml", ISO8583)],
        "cup" => &[("iso8583.toml", ISO8583), ("cup.toml", CUP)],
        // ISO 8583:2003 kept the 1993 action codes (see the file's header).
        "iso8583-1993" | "iso8583-2003" => &[("iso8583-1993.toml", ISO8583_1993)],
        "jpos-cmf" => &[("jpos-cmf.toml", JPOS_CMF)],
        _ => return None,
    };
    Some(files)
}

/// An ISO 8583:1993/2003 action code by its shape: exactly three digits. ISO 8583:1987 codes
/// are two characters, and the 4-digit codes in the wild (`9997`, jPOS CMF) are not 1993 codes.
pub fn is_action_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit())
}

/// The built-in profile whose table has codes of this shape, for hints when a code is not
/// found: 2 characters → `iso8583`, 3 digits → `iso8583-1993`, 4 digits → `jpos-cmf`.
pub fn profile_for_shape(code: &str) -> Option<&'static str> {
    if is_action_code(code) {
        Some("iso8583-1993")
    } else if code.len() == 4 && code.bytes().all(|b| b.is_ascii_digit()) {
        Some("jpos-cmf")
    } else if code.len() == 2 {
        Some("iso8583")
    } else {
        None
    }
}

/// The class of a response code (SPEC "Classification").
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Approved,
    Declined,
    Fraud,
    Network,
    Terminal,
    #[default]
    Unknown,
}

impl Class {
    /// All classes, in the column order of the CSV outputs.
    pub const ALL: [Class; 6] = [
        Class::Approved,
        Class::Declined,
        Class::Fraud,
        Class::Network,
        Class::Terminal,
        Class::Unknown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Class::Approved => "approved",
            Class::Declined => "declined",
            Class::Fraud => "fraud",
            Class::Network => "network",
            Class::Terminal => "terminal",
            Class::Unknown => "unknown",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    fn parse(s: &str) -> Option<Class> {
        Class::ALL
            .into_iter()
            .find(|c| c.name() == s.trim().to_ascii_lowercase())
            .filter(|c| *c != Class::Unknown)
    }

    /// Plain-language label for reports (the words live in [`crate::words`]).
    pub fn label(self, zh: bool) -> &'static str {
        crate::words::class_label(self, zh)
    }

    /// The class's colour in every chart, badge and legend.
    pub fn rgb(self) -> (u8, u8, u8) {
        match self {
            Class::Approved => (46, 139, 87),
            Class::Declined => (230, 159, 0),
            Class::Fraud => (204, 0, 102),
            Class::Network => (86, 180, 233),
            Class::Terminal => (213, 62, 0),
            Class::Unknown => (120, 120, 120),
        }
    }

    /// [`Class::rgb`] as `#rrggbb`.
    pub fn hex(self) -> String {
        let (r, g, b) = self.rgb();
        format!("#{r:02x}{g:02x}{b:02x}")
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who should act on a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Who {
    Nobody,
    Cardholder,
    Issuer,
    Merchant,
    Acquirer,
    Network,
}

impl Who {
    pub fn label(self, zh: bool) -> &'static str {
        crate::words::who_label(self, zh)
    }
}

/// One language's explanation of a code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub meaning: String,
    #[serde(default)]
    pub causes: Vec<String>,
    #[serde(default)]
    pub action: String,
    /// Other known meanings of this code at other acquirers or networks.
    #[serde(default)]
    pub readings: Vec<String>,
}

/// A catalog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub code: String,
    pub class: Class,
    pub who: Vec<Who>,
    /// Can retrying (the same card, later) plausibly succeed?
    pub retry: bool,
    /// Where the meaning comes from.
    pub source: String,
    /// Reserved in the standard (no assigned meaning).
    pub reserved: bool,
    pub en: Text,
    pub zh: Text,
    /// China UnionPay terminal action class (A–E), in the `cup` profile.
    pub cup_class: Option<String>,
    /// Is a row with this code a transaction? `false` for intermediate messages that are not
    /// the outcome of one (ISO `09` "request in progress": the real answer follows), for
    /// analysis to leave out of transaction counts. Data files write `transaction = false`.
    pub transaction: bool,
}

impl Entry {
    pub fn text(&self, zh: bool) -> &Text {
        if zh {
            &self.zh
        } else {
            &self.en
        }
    }
}

/// An entry as written in a data file: everything optional so a profile can override one
/// attribute of an inherited entry (`cup` adds `cup_class` to ISO codes).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    code: toml::Spanned<String>,
    class: Option<String>,
    who: Option<Vec<Who>>,
    retry: Option<bool>,
    source: Option<String>,
    reserved: Option<bool>,
    en: Option<Text>,
    zh: Option<Text>,
    cup_class: Option<String>,
    transaction: Option<bool>,
    // The flat form for user files: English text at the top level.
    meaning: Option<String>,
    causes: Option<Vec<String>>,
    action: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    profile: Option<String>,
    extends: Option<String>,
    title: Option<String>,
    #[serde(default)]
    sources: Vec<String>,
    #[serde(default)]
    strip_prefix: Vec<String>,
    #[serde(default)]
    cup_classes: BTreeMap<String, LabelPair>,
    #[serde(default)]
    codes: Vec<RawEntry>,
}

/// A label in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelPair {
    pub en: String,
    pub zh: String,
}

/// The active code table.
#[derive(Debug, Clone, Serialize)]
pub struct Catalog {
    /// Profile name (`iso8583`, `cup`, or the file's name).
    pub profile: String,
    pub title: String,
    pub sources: Vec<String>,
    /// SHA-256 over every table that went into this catalog, for the manifest.
    pub sha256: String,
    /// Host prefixes stripped when a code is not found as it is (`00` for `0051`).
    pub strip_prefix: Vec<String>,
    /// UnionPay terminal action classes, when the profile defines them.
    pub cup_classes: BTreeMap<String, LabelPair>,
    entries: BTreeMap<String, Entry>,
    /// The second table of the `auto` profile; `None` for a profile of one table.
    split: Option<Split>,
}

/// The `auto` profile: `entries` hold the ISO 8583:1987 table, `action_codes` the ISO
/// 8583:1993 table that 3-digit codes are looked up in first.
#[derive(Debug, Clone, Serialize)]
struct Split {
    /// Name and title of the 1987 table, since `profile` and `title` describe the pair.
    base_profile: String,
    base_title: String,
    action_codes: Box<Catalog>,
}

/// Which table of a catalog explained a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Base,
    ActionCodes,
}

/// Which codes a table was asked about (see [`TableUsage`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reads {
    /// Every code: the profile has one table.
    AllCodes,
    /// 3-digit numeric codes (ISO 8583:1993/2003 action codes).
    ThreeDigitCodes,
    /// Every code that is not a 3-digit action code (2-character codes, `9997`, `Y1` …), and
    /// 3-digit codes the action-code table does not have.
    OtherCodes,
    /// No table explained these codes: they are `unknown`.
    NoTable,
}

impl Reads {
    pub fn label(self, zh: bool) -> &'static str {
        crate::words::reads_label(self, zh)
    }
}

/// How much of the data one table of the catalog explained, for the manifest and the
/// report: which tables were used, and why (the shape of the codes each one reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableUsage {
    /// The table's profile name (`iso8583`, `iso8583-1993`, …), or `unknown` for the codes
    /// no table has.
    pub table: String,
    pub title: String,
    pub reads: Reads,
    /// Distinct codes this table explained.
    pub codes: u64,
    pub transactions: u64,
}

impl Catalog {
    /// Load a profile (`auto`, a built-in name or a file) and optionally a user table on top.
    pub fn load(profile: &str, extra: Option<&Path>) -> Result<Catalog> {
        let mut hasher = Sha256::new();
        let mut cat = match profile {
            AUTO => Catalog::auto(&mut hasher),
            name if builtin_files(name).is_some() => Catalog::builtin(name, &mut hasher),
            other => {
                let path = Path::new(other);
                if !path.exists() {
                    return Err(Error::Usage(format!(
                        "unknown profile {other:?}: use {PROFILE_NAMES}, or the path of a code file"
                    )));
                }
                let (bytes, raw) = read_user_file(path)?;
                hasher.update(&bytes);
                let mut base = match raw.extends.as_deref() {
                    Some(b) if builtin_files(b).is_some() => Catalog::builtin(b, &mut hasher),
                    Some(b) => {
                        return Err(Error::BadLine {
                            path: path.into(),
                            line: 1,
                            reason: format!(
                                "extends {b:?}: only iso8583, iso8583-1993, jpos-cmf or cup can be extended"
                            ),
                        })
                    }
                    None => Catalog::empty(),
                };
                base.profile = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| other.to_string());
                base.apply(raw, path, &bytes)?;
                base
            }
        };
        if let Some(path) = extra {
            let (bytes, mut raw) = read_user_file(path)?;
            hasher.update(&bytes);
            // Under `auto` a user's 3-digit codes extend or override the action-code table,
            // where lookups of 3-digit codes go.
            if let Some(split) = cat.split.as_mut() {
                let (three, rest) = std::mem::take(&mut raw.codes)
                    .into_iter()
                    .partition(|e| is_action_code(e.code.get_ref().trim()));
                raw.codes = rest;
                let action = RawCatalog {
                    codes: three,
                    ..RawCatalog::default()
                };
                split.action_codes.apply(action, path, &bytes)?;
            }
            cat.apply(raw, path, &bytes)?;
        }
        cat.sha256 = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(cat)
    }

    fn empty() -> Catalog {
        Catalog {
            profile: String::new(),
            title: String::new(),
            sources: Vec::new(),
            sha256: String::new(),
            strip_prefix: Vec::new(),
            cup_classes: BTreeMap::new(),
            entries: BTreeMap::new(),
            split: None,
        }
    }

    /// The `auto` profile: the ISO 8583:1987 table, with the ISO 8583:1993 table for 3-digit
    /// codes.
    fn auto(hasher: &mut Sha256) -> Catalog {
        let mut cat = Catalog::builtin("iso8583", hasher);
        let mut action = Catalog::builtin("iso8583-1993", hasher);
        // Only 3-digit codes are looked up in the action-code table; its other entries
        // (`NO_RESPONSE`, which both tables hold) are the 1987 table's, listed once.
        action.entries.retain(|code, _| is_action_code(code));
        let base_title = cat.title.clone();
        cat.title = format!("{base_title}; 3-digit codes: {}", action.title);
        cat.sources.extend(action.sources.iter().cloned());
        cat.split = Some(Split {
            base_profile: std::mem::replace(&mut cat.profile, AUTO.into()),
            base_title,
            action_codes: Box::new(action),
        });
        cat
    }

    /// Built-in profiles are compiled in and tested; a failure to parse them is a bug.
    fn builtin(name: &str, hasher: &mut Sha256) -> Catalog {
        let mut cat = Catalog::empty();
        let chain = builtin_files(name).unwrap_or_else(|| panic!("no built-in profile {name}"));
        for (file, text) in chain {
            hasher.update(text.as_bytes());
            let raw: RawCatalog = toml::from_str(text)
                .unwrap_or_else(|e| panic!("built-in catalog {file} does not parse: {e}"));
            cat.apply(raw, Path::new(file), text.as_bytes())
                .unwrap_or_else(|e| panic!("built-in catalog {file} is invalid: {e}"));
        }
        cat.profile = match name {
            "iso8583-2003" => "iso8583-1993".to_string(),
            _ => name.to_string(),
        };
        cat
    }

    /// Merge a table into this catalog: new codes are added, existing ones overridden field by
    /// field.
    fn apply(&mut self, raw: RawCatalog, path: &Path, bytes: &[u8]) -> Result<()> {
        if let Some(t) = raw.title {
            self.title = t;
        }
        if let Some(p) = raw.profile {
            self.profile = p;
        }
        self.sources.extend(raw.sources);
        self.strip_prefix.extend(raw.strip_prefix);
        self.cup_classes.extend(raw.cup_classes);
        let mut seen = std::collections::BTreeSet::new();
        for e in raw.codes {
            let line = line_of(bytes, e.code.span().start);
            let bad = |reason: String| Error::BadLine {
                path: path.into(),
                line,
                reason,
            };
            let code = e.code.get_ref().trim().to_ascii_uppercase();
            // `NO_RESPONSE` (a request without an answer) is the one code with a `_`.
            if code.is_empty()
                || (code != NO_RESPONSE && !code.bytes().all(|b| b.is_ascii_alphanumeric()))
            {
                return Err(bad(format!("invalid code {:?}", e.code.get_ref())));
            }
            if !seen.insert(code.clone()) {
                return Err(bad(format!("code {code} is listed twice")));
            }
            let class = match &e.class {
                Some(c) => Some(Class::parse(c).ok_or_else(|| {
                    bad(format!(
                        "code {code}: unknown class {c:?} (use approved, declined, fraud, network or terminal)"
                    ))
                })?),
                None => None,
            };
            let flat_en = e.meaning.as_ref().map(|m| Text {
                meaning: m.clone(),
                causes: e.causes.clone().unwrap_or_default(),
                action: e.action.clone().unwrap_or_default(),
                readings: Vec::new(),
            });
            let en = e.en.clone().or(flat_en);
            match self.entries.get_mut(&code) {
                Some(old) => {
                    if let Some(c) = class {
                        old.class = c;
                    }
                    if let Some(w) = e.who {
                        old.who = w;
                    }
                    if let Some(r) = e.retry {
                        old.retry = r;
                    }
                    if let Some(s) = e.source {
                        old.source = s;
                    }
                    if let Some(r) = e.reserved {
                        old.reserved = r;
                    }
                    if let Some(c) = e.cup_class {
                        old.cup_class = Some(c);
                    }
                    if let Some(t) = e.transaction {
                        old.transaction = t;
                    }
                    match (en, e.zh) {
                        (Some(en), Some(zh)) => {
                            old.en = en;
                            old.zh = zh;
                        }
                        // An English-only override must not leave a stale Chinese meaning.
                        (Some(en), None) => {
                            old.zh = en.clone();
                            old.en = en;
                        }
                        (None, Some(zh)) => old.zh = zh,
                        (None, None) => {}
                    }
                }
                None => {
                    let class =
                        class.ok_or_else(|| bad(format!("code {code}: class is missing")))?;
                    let en = en.ok_or_else(|| bad(format!("code {code}: meaning is missing")))?;
                    let zh = e.zh.unwrap_or_else(|| en.clone());
                    self.entries.insert(
                        code.clone(),
                        Entry {
                            code,
                            class,
                            who: e.who.unwrap_or_default(),
                            retry: e.retry.unwrap_or(false),
                            source: e.source.unwrap_or_else(|| path.display().to_string()),
                            reserved: e.reserved.unwrap_or(false),
                            en,
                            zh,
                            cup_class: e.cup_class,
                            transaction: e.transaction.unwrap_or(true),
                        },
                    );
                }
            }
        }
        Ok(())
    }

    /// The entry for a code: a 3-digit code in the action-code table first (under `auto`),
    /// then the code as it is, then with a configured prefix stripped.
    pub fn lookup(&self, code: &str) -> Option<&Entry> {
        self.resolve(code).map(|(_, e)| e)
    }

    /// The table that explains a code, and its entry.
    fn resolve(&self, code: &str) -> Option<(Part, &Entry)> {
        if let Some(split) = self.split.as_ref().filter(|_| is_action_code(code)) {
            if let Some(e) = split.action_codes.lookup(code) {
                return Some((Part::ActionCodes, e));
            }
        }
        self.lookup_here(code).map(|e| (Part::Base, e))
    }

    /// [`Catalog::lookup`] in this table alone.
    fn lookup_here(&self, code: &str) -> Option<&Entry> {
        if let Some(e) = self.entries.get(code) {
            return Some(e);
        }
        self.strip_prefix.iter().find_map(|p| {
            code.strip_prefix(p.as_str())
                .filter(|rest| !rest.is_empty())
                .and_then(|rest| self.entries.get(rest))
        })
    }

    /// The class of a code; `unknown` when the catalog does not have it.
    pub fn class_of(&self, code: &str) -> Class {
        self.lookup(code).map_or(Class::Unknown, |e| e.class)
    }

    /// Does a row with this code count as a transaction? `false` only for codes the catalog
    /// marks as intermediate messages (`transaction = false`); unknown codes count.
    pub fn is_transaction(&self, code: &str) -> bool {
        self.lookup(code).is_none_or(|e| e.transaction)
    }

    /// Every entry, sorted by code (under `auto`: the 1987 table, then the action codes).
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        let action = self
            .split
            .iter()
            .flat_map(|s| s.action_codes.entries.values());
        self.entries.values().chain(action)
    }

    pub fn len(&self) -> usize {
        self.entries.len() + self.split.as_ref().map_or(0, |s| s.action_codes.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True under `auto`: 3-digit codes are read as ISO 8583:1993 action codes.
    pub fn reads_action_codes(&self) -> bool {
        self.split.is_some()
    }

    /// The profile name of the table that explains a code (under `auto`: `iso8583` or
    /// `iso8583-1993`).
    pub fn table_of(&self, code: &str) -> Option<&str> {
        let split = self.split.as_ref();
        let name = match self.resolve(code)?.0 {
            Part::ActionCodes => split.map_or(&self.profile, |s| &s.action_codes.profile),
            Part::Base => split.map_or(&self.profile, |s| &s.base_profile),
        };
        Some(name.as_str())
    }

    /// Which tables explained the data and how much of it, given each distinct code with its
    /// transactions: one row per table of the catalog (even if it explained nothing), then
    /// one `unknown` row for the codes no table has.
    pub fn table_usage<'a>(
        &self,
        counts: impl IntoIterator<Item = (&'a str, u64)>,
    ) -> Vec<TableUsage> {
        let row = |table: &str, title: &str, reads| TableUsage {
            table: table.to_string(),
            title: title.to_string(),
            reads,
            codes: 0,
            transactions: 0,
        };
        let mut rows = match &self.split {
            None => vec![row(&self.profile, &self.title, Reads::AllCodes)],
            Some(s) => vec![
                row(&s.base_profile, &s.base_title, Reads::OtherCodes),
                row(
                    &s.action_codes.profile,
                    &s.action_codes.title,
                    Reads::ThreeDigitCodes,
                ),
            ],
        };
        rows.push(row("unknown", "", Reads::NoTable));
        let unknown = rows.len() - 1;
        for (code, n) in counts {
            let i = match self.resolve(code) {
                Some((Part::Base, _)) => 0,
                Some((Part::ActionCodes, _)) => 1,
                None => unknown,
            };
            rows[i].codes += 1;
            rows[i].transactions += n;
        }
        rows
    }
}

/// Read a user code table: TOML (`[[codes]]` entries) or CSV (`code,class,meaning,causes,action`
/// with optional `retry`, `transaction`, `who`, `meaning_zh`, `causes_zh`, `action_zh`; causes
/// separated by `;`).
fn read_user_file(path: &Path) -> Result<(Vec<u8>, RawCatalog)> {
    let bytes = std::fs::read(path).map_err(|source| Error::Open {
        path: path.into(),
        source,
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|e| Error::BadLine {
        path: path.into(),
        line: line_of(&bytes, e.valid_up_to()),
        reason: "not valid UTF-8".into(),
    })?;
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let raw = if is_csv {
        csv_table(path, text)?
    } else {
        toml::from_str::<RawCatalog>(text).map_err(|e| Error::BadLine {
            path: path.into(),
            line: e.span().map_or(1, |s| line_of(&bytes, s.start)),
            reason: e.message().to_string(),
        })?
    };
    Ok((bytes, raw))
}

/// A CSV code table as TOML would have given it. The code's span points at its line so errors
/// found later in [`Catalog::apply`] name the right line.
fn csv_table(path: &Path, text: &str) -> Result<RawCatalog> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let bad = |line: u64, reason: String| Error::BadLine {
        path: path.into(),
        line,
        reason,
    };
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| bad(1, e.to_string()))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let code_col = col("code").ok_or_else(|| bad(1, "the header needs a `code` column".into()))?;
    let mut codes = Vec::new();
    let mut strip_prefix = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            bad(line, format!("{e}"))
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        let get = |name: &str| {
            col(name)
                .and_then(|i| rec.get(i))
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let split = |s: Option<&str>| {
            s.map(|s| {
                s.split(';')
                    .map(|c| c.trim().to_string())
                    .collect::<Vec<_>>()
            })
        };
        let code = rec.get(code_col).unwrap_or("").trim().to_string();
        if let Some(p) = code.strip_prefix("strip_prefix:") {
            strip_prefix.push(p.to_string());
            continue;
        }
        let yes_no = |name: &str| match get(name) {
            None => Ok(None),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "yes" | "true" | "y" | "1" => Ok(Some(true)),
                "no" | "false" | "n" | "0" => Ok(Some(false)),
                _ => Err(bad(line, format!("{name} must be yes or no, got {v:?}"))),
            },
        };
        let retry = yes_no("retry")?;
        let transaction = yes_no("transaction")?;
        let who = match split(get("who")) {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|w| {
                        toml::Value::String(w.to_ascii_lowercase())
                            .try_into::<Who>()
                            .map_err(|_| bad(line, format!("unknown who {w:?}")))
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
        };
        let zh = get("meaning_zh").map(|m| Text {
            meaning: m.to_string(),
            causes: split(get("causes_zh")).unwrap_or_default(),
            action: get("action_zh").unwrap_or("").to_string(),
            readings: Vec::new(),
        });
        // Point the span at the start of this record's line.
        let offset = nth_line_offset(text, line);
        codes.push(RawEntry {
            code: toml::Spanned::new(offset..offset + code.len(), code),
            class: get("class").map(str::to_string),
            who,
            retry,
            source: get("source").map(str::to_string),
            reserved: None,
            en: None,
            zh,
            cup_class: get("cup_class").map(str::to_string),
            transaction,
            meaning: get("meaning").map(str::to_string),
            causes: split(get("causes")),
            action: get("action").map(str::to_string),
        });
    }
    Ok(RawCatalog {
        profile: None,
        extends: None,
        title: None,
        sources: Vec::new(),
        strip_prefix,
        cup_classes: BTreeMap::new(),
        codes,
    })
}

fn line_of(bytes: &[u8], offset: usize) -> u64 {
    1 + bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u64
}

fn nth_line_offset(text: &str, line: u64) -> usize {
    if line <= 1 {
        return 0;
    }
    text.match_indices('\n')
        .nth(line as usize - 2)
        .map_or(text.len(), |(i, _)| i + 1)
}

#[cfg(test)]
mod tests;
