//! The canonical transaction fields and the header names that map onto them.
//!
//! Acquirer exports name the same column a dozen ways (`tid`, `Terminal No`, `终端号`). Every
//! reader maps its columns onto [`Field`] here, so the rest of the pipeline only ever sees
//! canonical names. Matching is case-, space-, `_`- and `-`-insensitive (see [`normalize_header`]).

use std::collections::BTreeMap;

/// A canonical input field (SPEC "Input").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    Timestamp,
    /// The transaction date when the export splits date and time into two columns; the
    /// time is then in [`Field::Timestamp`] (issue 11).
    Date,
    TerminalId,
    ResponseCode,
    MerchantId,
    MerchantName,
    TxnId,
    TxnType,
    Amount,
    Currency,
    CardScheme,
    EntryMode,
    LatencyMs,
    Pan,
    /// The terminal's model, firmware and application version (its cohort, issue 24).
    TerminalModel,
    FirmwareVersion,
    AppVersion,
}

impl Field {
    /// Number of canonical fields; [`RawFields`] is an array of this size.
    pub const COUNT: usize = 17;

    /// Every field, in canonical order.
    pub const ALL: [Field; Field::COUNT] = [
        Field::Timestamp,
        Field::Date,
        Field::TerminalId,
        Field::ResponseCode,
        Field::MerchantId,
        Field::MerchantName,
        Field::TxnId,
        Field::TxnType,
        Field::Amount,
        Field::Currency,
        Field::CardScheme,
        Field::EntryMode,
        Field::LatencyMs,
        Field::Pan,
        Field::TerminalModel,
        Field::FirmwareVersion,
        Field::AppVersion,
    ];

    /// The fields without which a row cannot be used.
    pub const REQUIRED: [Field; 3] = [Field::Timestamp, Field::TerminalId, Field::ResponseCode];

    /// The canonical name, as used in CSV headers, JSON keys, Parquet columns and `--map`.
    pub fn name(self) -> &'static str {
        match self {
            Field::Timestamp => "timestamp",
            Field::Date => "date",
            Field::TerminalId => "terminal_id",
            Field::ResponseCode => "response_code",
            Field::MerchantId => "merchant_id",
            Field::MerchantName => "merchant_name",
            Field::TxnId => "txn_id",
            Field::TxnType => "txn_type",
            Field::Amount => "amount",
            Field::Currency => "currency",
            Field::CardScheme => "card_scheme",
            Field::EntryMode => "entry_mode",
            Field::LatencyMs => "latency_ms",
            Field::Pan => "pan",
            Field::TerminalModel => "terminal_model",
            Field::FirmwareVersion => "firmware_version",
            Field::AppVersion => "app_version",
        }
    }

    /// Look a field up by its canonical name (after [`normalize_header`]).
    pub fn from_name(name: &str) -> Option<Field> {
        let n = normalize_header(name);
        Field::ALL
            .into_iter()
            .find(|f| normalize_header(f.name()) == n)
    }

    fn index(self) -> usize {
        self as usize
    }

    /// Header spellings seen in real exports (SPEC's alias table, plus a few common ones).
    /// Compared after [`normalize_header`], so `Terminal-No` matches `terminal_no`.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Field::Timestamp => &[
                "time",
                "datetime",
                "date_time",
                "txn_time",
                "transaction_time",
                "trans_time",
                "txn_datetime",
                "交易时间",
            ],
            // The transaction date only: a settlement date (`清算日期`, `settlement_date`)
            // is when the money moved, often the next business day, and is never read.
            Field::Date => &[
                "txn_date",
                "transaction_date",
                "trans_date",
                "交易日期",
                "日期",
            ],
            Field::TerminalId => &[
                "tid",
                "terminal",
                "terminal_no",
                "terminal_code",
                "pos_id",
                "终端号",
                "终端编号",
            ],
            Field::ResponseCode => &[
                "rc",
                "resp_code",
                "response",
                "result_code",
                "field39",
                "de39",
                "应答码",
                "响应码",
            ],
            Field::MerchantId => &["mid", "merchant", "merchant_no", "商户号", "商户编号"],
            Field::MerchantName => &["merchant_name", "store", "shop", "商户名称", "商户名"],
            Field::TxnId => &[
                "transaction_id",
                "trace_no",
                "stan",
                "rrn",
                "reference",
                "流水号",
            ],
            Field::TxnType => &["type", "transaction_type", "mti", "交易类型"],
            Field::Amount => &["amt", "transaction_amount", "金额", "交易金额"],
            Field::Currency => &["currency_code", "币种"],
            Field::CardScheme => &["scheme", "card_brand", "卡组织"],
            Field::EntryMode => &["pos_entry_mode", "entry"],
            Field::LatencyMs => &["latency", "response_time_ms"],
            Field::Pan => &["card_no", "card_number", "卡号"],
            Field::TerminalModel => &[
                "model",
                "device_model",
                "terminal_type",
                "pos_model",
                "终端型号",
                "机具型号",
            ],
            Field::FirmwareVersion => &["firmware", "fw_version", "fw", "固件版本"],
            Field::AppVersion => &[
                "app_ver",
                "application_version",
                "software_version",
                "应用版本",
            ],
        }
    }
}

/// Fields that must never be kept: track data, CVV, PIN blocks (PCI DSS 3.2). Columns whose
/// header matches one of these are dropped at ingest without being read further.
const SENSITIVE: &[&str] = &[
    "track",
    "track1",
    "track2",
    "track3",
    "track_data",
    "track2_data",
    "cvv",
    "cvv2",
    "cvc",
    "cvc2",
    "cid",
    "pin",
    "pin_block",
    "pinblock",
];

/// Canonical form of a header for matching: trimmed, lower-case, without spaces, `_` and `-`.
pub fn normalize_header(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '\t'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Is this header a sensitive card-data field that must be dropped at ingest?
pub fn is_sensitive(header: &str) -> bool {
    let n = normalize_header(header);
    SENSITIVE.iter().any(|s| normalize_header(s) == n)
}

/// User column mapping (`--map field=Header`), checked before the aliases.
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    /// canonical field -> the user's header, normalised
    overrides: BTreeMap<Field, String>,
}

impl Mapping {
    /// Parse `field=Header` pairs; the field must be a canonical name.
    pub fn parse(pairs: &[String]) -> Result<Mapping, String> {
        let mut overrides = BTreeMap::new();
        for pair in pairs {
            let (field, header) = pair
                .split_once('=')
                .ok_or_else(|| format!("--map expects field=Header, got {pair:?}"))?;
            let f = Field::from_name(field).ok_or_else(|| {
                let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "--map: unknown field {field:?}; fields are: {}",
                    names.join(", ")
                )
            })?;
            overrides.insert(f, normalize_header(header));
        }
        Ok(Mapping { overrides })
    }

    /// Match one header to a field: the user's mapping first, then the canonical name, then
    /// the aliases.
    pub fn match_header(&self, header: &str) -> Option<Field> {
        let n = normalize_header(header);
        if let Some((f, _)) = self.overrides.iter().find(|(_, h)| **h == n) {
            return Some(*f);
        }
        Field::ALL.into_iter().find(|f| {
            !self.overrides.contains_key(f)
                && (normalize_header(f.name()) == n
                    || f.aliases().iter().any(|a| normalize_header(a) == n))
        })
    }

    /// Map a header row onto canonical fields: for each column, the field it feeds (or None).
    /// The first column that matches a field wins; later duplicates are ignored.
    pub fn resolve(&self, headers: &[String]) -> Vec<Option<Field>> {
        let mut seen = [false; Field::COUNT];
        let mut columns: Vec<Option<Field>> = headers
            .iter()
            .map(|h| {
                if is_sensitive(h) {
                    return None;
                }
                let f = self.match_header(h)?;
                if seen[f.index()] {
                    None
                } else {
                    seen[f.index()] = true;
                    Some(f)
                }
            })
            .collect();
        // A date column without a time column is the timestamp (`Date` holding
        // `2026-11-05 14:30:05`); a date-only value is then rejected as "no time".
        if !seen[Field::Timestamp.index()] {
            for c in columns.iter_mut().filter(|c| **c == Some(Field::Date)) {
                *c = Some(Field::Timestamp);
            }
        }
        columns
    }
}

/// Raw text per canonical field for one candidate transaction, as a reader found it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawFields([Option<String>; Field::COUNT]);

impl RawFields {
    pub fn get(&self, f: Field) -> Option<&str> {
        self.0[f.index()].as_deref()
    }

    pub fn set(&mut self, f: Field, value: impl Into<String>) {
        self.0[f.index()] = Some(value.into());
    }
}

/// The same, borrowed from a parsed record: the CSV hot path fills one per row without
/// allocating.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefFields<'a>([Option<&'a str>; Field::COUNT]);

impl<'a> RefFields<'a> {
    pub fn set(&mut self, f: Field, value: &'a str) {
        self.0[f.index()] = Some(value);
    }
}

/// Read access to a candidate row's fields, owned or borrowed: validation is written once.
pub trait FieldSource {
    fn get(&self, f: Field) -> Option<&str>;
}

impl FieldSource for RawFields {
    fn get(&self, f: Field) -> Option<&str> {
        RawFields::get(self, f)
    }
}

impl FieldSource for RefFields<'_> {
    fn get(&self, f: Field) -> Option<&str> {
        self.0[f.index()]
    }
}

/// What a format reader hands to the pipeline, one per input unit (row, line or log event).
// Items are handed over one at a time and never stored in bulk, so the size difference between
// the variants costs nothing; boxing the record would cost an allocation per row.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A candidate transaction; validation (timestamp, code, ...) happens downstream.
    Record { line: u64, fields: RawFields },
    /// A unit that could not be used at all (broken JSON line, truncated XML event, ...).
    /// `excerpt` is raw text; the pipeline scrubs it before writing it anywhere.
    Reject {
        line: u64,
        reason: String,
        excerpt: String,
    },
    /// Not a transaction (a jPOS request message, a session event): counted, not an error,
    /// and not part of `rows_read`. `note` says what the run counts it as besides, if anything.
    Skip { line: u64, note: Option<Note> },
}

/// What a skipped log event is, when the run counts it besides `events_skipped` (the jPOS
/// reader's request bookkeeping, issue 12). Never a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// A card request whose response had not come when the reader stopped watching it, before
    /// its timeout had passed: the log ended (or the reader's memory bound was reached) too
    /// soon to call it unanswered.
    PendingAtEnd,
    /// A reversal request (0400, 0420, their repeats, the 1993 forms); `linked` when the
    /// transaction it reverses was found earlier in the log.
    Reversal { linked: bool },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_match_insensitively() {
        let m = Mapping::default();
        assert_eq!(m.match_header("Terminal-No"), Some(Field::TerminalId));
        assert_eq!(m.match_header(" TID "), Some(Field::TerminalId));
        assert_eq!(m.match_header("交易时间"), Some(Field::Timestamp));
        assert_eq!(m.match_header("RESP_CODE"), Some(Field::ResponseCode));
        assert_eq!(m.match_header("\u{feff}timestamp"), Some(Field::Timestamp));
        assert_eq!(m.match_header("colour"), None);
    }

    #[test]
    fn split_date_and_time_columns_issue_11() {
        let m = Mapping::default();
        let cols = m.resolve(&["交易日期".into(), "交易时间".into(), "清算日期".into()]);
        assert_eq!(cols, vec![Some(Field::Date), Some(Field::Timestamp), None]);
        let cols = m.resolve(&["Txn Date".into(), "TXN_TIME".into()]);
        assert_eq!(cols, vec![Some(Field::Date), Some(Field::Timestamp)]);
        assert_eq!(m.match_header("Settlement Date"), None);
        // A lone date column is the timestamp.
        assert_eq!(m.resolve(&["Date".into()]), vec![Some(Field::Timestamp)]);
    }

    #[test]
    fn no_alias_is_claimed_by_two_fields() {
        let mut seen = std::collections::BTreeMap::new();
        for f in Field::ALL {
            for a in std::iter::once(f.name()).chain(f.aliases().iter().copied()) {
                if let Some(prev) = seen.insert(normalize_header(a), f) {
                    assert_eq!(prev, f, "alias {a} claimed by {prev:?} and {f:?}");
                }
            }
        }
    }

    #[test]
    fn mapping_overrides_aliases_and_sensitive_columns_drop() {
        let m = Mapping::parse(&["terminal_id=Device".to_string()]).unwrap();
        let cols = m.resolve(&[
            "Device".into(),
            "tid".into(),
            "CVV2".into(),
            "Track2 Data".into(),
        ]);
        assert_eq!(cols, vec![Some(Field::TerminalId), None, None, None]);
        assert!(Mapping::parse(&["nope=X".to_string()]).is_err());
    }
}
