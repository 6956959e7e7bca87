//! JSON Lines reader: one JSON object per line, one candidate transaction per object.
//!
//! ```text
//! {"timestamp":"2024-03-01T10:15:02+08:00","tid":"T0000017","rc":"05","amount":12.5}
//! ```
//!
//! What the reader does, and why:
//!
//! - **Keys** map to canonical fields through [`Mapping::match_header`] (user `--map` first,
//!   then canonical names and aliases, case/space/`_`/`-` insensitive). Keys that match no
//!   field are ignored, whatever their value. Keys that [`is_sensitive`] (track data, CVV, PIN
//!   block) are dropped: serde_json sees their value while validating the line, but it is
//!   never extracted, copied or put into an item (reject excerpts mask it too).
//! - **Several keys for one field** (`"tid"` and `"terminal_id"`): the first key in the line
//!   with a non-blank scalar value wins, the later ones are ignored unread. This mirrors
//!   [`Mapping::resolve`] for CSV headers ("first column wins") and works in document order,
//!   which is why the object is scanned by hand rather than through
//!   `serde_json::Map` (which sorts its keys).
//! - **Values**: strings as they are (escapes decoded, no trimming); numbers as their exact
//!   JSON text (`5` → `"5"`, `12.50` → `"12.50"`, `1e3` → `"1e3"`: nothing is lost to `f64`,
//!   so 19-digit ids stay exact; the pipeline parses and pads); `true`/`false` as text; `null`
//!   and blank strings → field not set (as an empty CSV cell). An object or array under a
//!   mapped key rejects the line with `field <key> is not a scalar` (guessing which member was
//!   meant would be worse), unless another key of the line gives that field a scalar value:
//!   `{"tid":"T9","terminal":{"id":"T9","model":"A920"}}` is fine.
//! - **Line problems** become [`Item::Reject`], never `Err`: `invalid JSON: <serde message>`,
//!   `not a JSON object`, `undecodable bytes (not UTF-8)` (lines are read as bytes, so one bad
//!   line does not end the file), and `line longer than 1 MiB` (such a line is skipped without
//!   being buffered: it is almost certainly not JSON Lines).
//! - Blank lines (only whitespace) are skipped silently. A UTF-8 BOM at the start of the input
//!   and CRLF line ends are accepted.
//! - Values are not validated here (timestamps, codes, required fields): the pipeline does
//!   that, so a line without a terminal still comes out as an [`Item::Record`].
//! - Reject excerpts are the raw line cut to 200 characters, with the values of sensitive keys
//!   replaced by `***` first (defence in depth; the pipeline scrubs PANs on top).
//!
//! `line` in every item is the 1-based line number of the line in the input.

use std::io::{self, BufRead};

use super::schema::{is_sensitive, Field, Item, Mapping, RawFields};

/// Longest line we buffer. Anything longer is rejected and skipped in a streaming way, so a
/// binary file fed in by mistake cannot make us hold gigabytes.
const MAX_LINE_BYTES: usize = 1 << 20;

/// Excerpts are cut to this many characters.
const EXCERPT_CHARS: usize = 200;

const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// Read JSON Lines from `input`, calling `emit` once per non-blank line.
///
/// Only I/O errors (from `input`) and errors returned by `emit` end the read early; every data
/// problem becomes an [`Item::Reject`].
pub fn read<R: BufRead, E: From<io::Error>>(
    mut input: R,
    mapping: &Mapping,
    emit: &mut dyn FnMut(Item) -> Result<(), E>,
) -> Result<(), E> {
    let mut buf = Vec::new();
    let mut line_no: u64 = 0;
    loop {
        buf.clear();
        let Some(overflow) = read_line_capped(&mut input, &mut buf, MAX_LINE_BYTES)? else {
            return Ok(());
        };
        line_no += 1;
        let mut bytes = buf.as_slice();
        if line_no == 1 {
            bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
        }
        bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        let item = if overflow {
            Some(reject(
                line_no,
                format!("line longer than {} MiB", MAX_LINE_BYTES >> 20),
                &String::from_utf8_lossy(bytes),
            ))
        } else {
            parse_line(bytes, line_no, mapping)
        };
        if let Some(item) = item {
            emit(item)?;
        }
    }
}

/// Append one line (including its `\n`, if any) to `buf`, keeping at most `cap` bytes.
/// Returns `None` at end of input, otherwise whether the line was longer than `cap` (the rest
/// of it is consumed and dropped).
fn read_line_capped<R: BufRead>(
    input: &mut R,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<Option<bool>> {
    let mut total = 0usize;
    loop {
        let avail = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok((total > 0).then_some(total > cap));
        }
        let (take, done) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (avail.len(), false),
        };
        let room = cap.saturating_sub(buf.len());
        buf.extend_from_slice(&avail[..take.min(room)]);
        input.consume(take);
        total = total.saturating_add(take);
        if done {
            // `total` counts the '\n'; a line of exactly `cap` bytes plus its newline is fine.
            return Ok(Some(total - 1 > cap));
        }
    }
}

/// Turn one line (without its line end) into an item; `None` for a blank line.
fn parse_line(bytes: &[u8], line: u64, mapping: &Mapping) -> Option<Item> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Some(reject(
            line,
            "undecodable bytes (not UTF-8)".into(),
            &String::from_utf8_lossy(bytes),
        ));
    };
    // serde_json does the validation (and gives the good error messages); the hand scanner
    // below then only ever sees valid JSON.
    match serde_json::from_str::<serde_json::Value>(text) {
        Err(e) => return Some(reject(line, format!("invalid JSON: {e}"), text)),
        Ok(v) if !v.is_object() => {
            return Some(reject(line, "not a JSON object".into(), text));
        }
        Ok(_) => {}
    }
    Some(match extract(text, mapping) {
        Ok(fields) => Item::Record { line, fields },
        Err(reason) => reject(line, reason, text),
    })
}

/// Pull the mapped scalar values out of a valid JSON object, in document order.
fn extract(text: &str, mapping: &Mapping) -> Result<RawFields, String> {
    let mut fields = RawFields::default();
    // Mapped keys whose value was an object or array, in order: a reject unless another key
    // supplies the field.
    let mut nested: Vec<(Field, String)> = Vec::new();
    let mut sc = Scanner::new(text);
    // Only reachable if serde_json and the scanner disagree about validity.
    let confused = || "invalid JSON: unexpected structure".to_string();

    sc.skip_ws();
    if !sc.eat(b'{') {
        return Err(confused());
    }
    sc.skip_ws();
    let mut more = !sc.eat(b'}');
    while more {
        sc.skip_ws();
        let key_span = sc.string().ok_or_else(confused)?;
        let key = decode_string(key_span).ok_or_else(confused)?;
        sc.skip_ws();
        if !sc.eat(b':') {
            return Err(confused());
        }
        sc.skip_ws();
        let (kind, span) = sc.value().ok_or_else(confused)?;

        let field = if is_sensitive(&key) {
            None // dropped unread
        } else {
            mapping.match_header(&key)
        };
        // The first key that gives a field a value wins; later ones are not even decoded.
        if let Some(f) = field.filter(|&f| fields.get(f).is_none()) {
            let value = match kind {
                Kind::Null => None,
                Kind::String => Some(decode_string(span).ok_or_else(confused)?),
                // Numbers and literals keep their JSON text exactly.
                Kind::Number | Kind::True | Kind::False => Some(span.to_string()),
                Kind::Nested => {
                    nested.push((f, key));
                    None
                }
            };
            // Blank counts as absent, as an empty CSV cell does.
            if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
                fields.set(f, v);
            }
        }

        sc.skip_ws();
        more = sc.eat(b',');
        if !more && !sc.eat(b'}') {
            return Err(confused());
        }
    }
    if let Some((_, key)) = nested.iter().find(|(f, _)| fields.get(*f).is_none()) {
        return Err(format!("field {key} is not a scalar"));
    }
    Ok(fields)
}

/// Decode a JSON string literal (with quotes). Plain strings are sliced without allocation
/// churn; strings with escapes go through serde_json.
fn decode_string(span: &str) -> Option<String> {
    let inner = span.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(span).ok()
    } else {
        Some(inner.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Number,
    True,
    False,
    Null,
    Nested,
}

/// A minimal cursor over JSON text that finds the spans of keys and values. It relies on the
/// text having been validated already, but never panics on anything: every step is bounds
/// checked and returns `None` when the input is not what it expects.
struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        Scanner { text, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// A string literal starting at the cursor, quotes included.
    fn string(&mut self) -> Option<&'a str> {
        let start = self.pos;
        if !self.eat(b'"') {
            return None;
        }
        let bytes = self.text.as_bytes();
        loop {
            match bytes.get(self.pos)? {
                b'\\' => self.pos += 2,
                b'"' => {
                    self.pos += 1;
                    return self.text.get(start..self.pos);
                }
                _ => self.pos += 1,
            }
        }
    }

    /// A value starting at the cursor: its kind and its text.
    fn value(&mut self) -> Option<(Kind, &'a str)> {
        let start = self.pos;
        let kind = match self.peek()? {
            b'"' => {
                let s = self.string()?;
                return Some((Kind::String, s));
            }
            b'{' | b'[' => {
                self.skip_nested()?;
                Kind::Nested
            }
            _ => {
                // number or literal: up to the next delimiter
                while let Some(b) = self.peek() {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n') {
                        break;
                    }
                    self.pos += 1;
                }
                match self.text.get(start..self.pos)? {
                    "true" => Kind::True,
                    "false" => Kind::False,
                    "null" => Kind::Null,
                    "" => return None,
                    _ => Kind::Number,
                }
            }
        };
        Some((kind, self.text.get(start..self.pos)?))
    }

    /// Skip a whole object or array, iteratively (no recursion, so no stack overflow on deep
    /// nesting), stepping over strings so brackets inside them do not count.
    fn skip_nested(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            match self.peek()? {
                b'"' => {
                    self.string()?;
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        self.pos += 1;
                        return Some(());
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
    }
}

fn reject(line: u64, reason: String, raw: &str) -> Item {
    Item::Reject {
        line,
        reason,
        // PANs are masked before the cut, so a card number straddling it cannot survive.
        excerpt: excerpt(&super::normalize::scrub_pans(&mask_sensitive(raw))),
    }
}

/// At most [`EXCERPT_CHARS`] characters (cut on a char boundary).
fn excerpt(s: &str) -> String {
    s.chars().take(EXCERPT_CHARS).collect()
}

/// Replace the value after every `"<sensitive key>":` with `***`. Works on broken JSON too
/// (it only looks at quoted strings followed by a colon), because that is what rejects hold.
fn mask_sensitive(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0; // text[..copied] is already in `out`
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'"' {
            i += 1;
            continue;
        }
        // a quoted string: find its end
        let start = i;
        i += 1;
        while i < bytes.len() && bytes[i] != b'"' {
            i += if bytes[i] == b'\\' { 2 } else { 1 };
        }
        let end = i.min(bytes.len());
        i = end + 1;
        let key = text.get(start + 1..end).unwrap_or("");
        let mut j = i;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        if j >= bytes.len() || bytes[j] != b':' || !is_sensitive(key) {
            continue;
        }
        j += 1;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        // the value: a string, or anything up to the next delimiter
        let mut k = j;
        if bytes.get(k) == Some(&b'"') {
            k += 1;
            while k < bytes.len() && bytes[k] != b'"' {
                k += if bytes[k] == b'\\' { 2 } else { 1 };
            }
            k = (k + 1).min(bytes.len());
        } else {
            while k < bytes.len() && !matches!(bytes[k], b',' | b'}' | b']') {
                k += 1;
            }
        }
        // j and k sit on ASCII bytes or the ends, so both are char boundaries
        if let Some(head) = text.get(copied..j) {
            out.push_str(head);
            out.push_str("***");
            copied = k;
        }
        i = k;
    }
    out.push_str(text.get(copied..).unwrap_or(""));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRANSACTIONS: &str = include_str!("../../tests/fixtures/jsonl/transactions.jsonl");
    const ALIASES: &str = include_str!("../../tests/fixtures/jsonl/aliases.jsonl");
    const BROKEN: &str = include_str!("../../tests/fixtures/jsonl/broken.jsonl");

    fn read_all(input: &[u8], mapping: &Mapping) -> Vec<Item> {
        let mut items = Vec::new();
        read::<_, io::Error>(input, mapping, &mut |it| {
            items.push(it);
            Ok(())
        })
        .expect("in-memory input cannot fail");
        items
    }

    fn parse(input: &str) -> Vec<Item> {
        read_all(input.as_bytes(), &Mapping::default())
    }

    fn record(item: &Item) -> (u64, &RawFields) {
        match item {
            Item::Record { line, fields } => (*line, fields),
            other => panic!("expected a record, got {other:?}"),
        }
    }

    fn reject_of(item: &Item) -> (u64, &str, &str) {
        match item {
            Item::Reject {
                line,
                reason,
                excerpt,
            } => (*line, reason, excerpt),
            other => panic!("expected a reject, got {other:?}"),
        }
    }

    fn line_of(item: &Item) -> u64 {
        match item {
            Item::Record { line, .. } | Item::Reject { line, .. } | Item::Skip { line, .. } => {
                *line
            }
        }
    }

    #[test]
    fn happy_path_exact_fields() {
        let items = parse(TRANSACTIONS);
        assert_eq!(items.len(), 4, "{items:#?}");

        let (line, f) = record(&items[0]);
        assert_eq!(line, 1);
        assert_eq!(f.get(Field::Timestamp), Some("2024-03-01T10:15:02+08:00"));
        assert_eq!(f.get(Field::TerminalId), Some("T0000017"));
        assert_eq!(f.get(Field::ResponseCode), Some("00"));
        assert_eq!(f.get(Field::MerchantId), Some("104110053990001"));
        assert_eq!(f.get(Field::MerchantName), Some("Café Lumière"));
        assert_eq!(f.get(Field::TxnId), Some("401912345678"));
        assert_eq!(f.get(Field::TxnType), Some("purchase"));
        assert_eq!(f.get(Field::Amount), Some("12.50"));
        assert_eq!(f.get(Field::Currency), Some("EUR"));
        assert_eq!(f.get(Field::CardScheme), Some("VISA"));
        assert_eq!(f.get(Field::EntryMode), Some("chip"));
        assert_eq!(f.get(Field::LatencyMs), Some("412"));
        assert_eq!(f.get(Field::Pan), Some("476173******0119"));

        // numeric response code stays the text it was given
        let (line, f) = record(&items[1]);
        assert_eq!(line, 2);
        assert_eq!(f.get(Field::ResponseCode), Some("5"));
        assert_eq!(f.get(Field::Amount), Some("1250"));
        assert_eq!(f.get(Field::TxnId), Some("12345678901234567890123")); // beyond u64: exact
        assert_eq!(f.get(Field::MerchantName), None); // null → not set
        assert_eq!(f.get(Field::CardScheme), Some("true")); // bool → text

        let (line, f) = record(&items[2]);
        assert_eq!(line, 3);
        assert_eq!(f.get(Field::ResponseCode), Some("05"));
        assert_eq!(f.get(Field::Amount), Some("1e3"));
        assert_eq!(f.get(Field::MerchantName), Some("Say \"hi\" \\ 你好"));

        // required fields missing is the pipeline's business: still a record
        let (line, f) = record(&items[3]);
        assert_eq!(line, 4);
        assert_eq!(f.get(Field::TerminalId), None);
        assert_eq!(f.get(Field::ResponseCode), Some("91"));
    }

    #[test]
    fn aliases_and_case_insensitive_keys() {
        let items = parse(ALIASES);
        assert_eq!(items.len(), 4, "{items:#?}");
        let (_, f) = record(&items[0]);
        assert_eq!(f.get(Field::Timestamp), Some("2024-03-01 10:15:02"));
        assert_eq!(f.get(Field::TerminalId), Some("T1"));
        assert_eq!(f.get(Field::ResponseCode), Some("51"));
        assert_eq!(f.get(Field::MerchantId), Some("M1"));
        assert_eq!(f.get(Field::TxnId), Some("000123"));
        assert_eq!(f.get(Field::Amount), Some("99.99"));

        let (_, f) = record(&items[1]);
        assert_eq!(f.get(Field::Timestamp), Some("2024-03-01 10:16:00"));
        assert_eq!(f.get(Field::TerminalId), Some("终端-7"));
        assert_eq!(f.get(Field::ResponseCode), Some("00"));
        assert_eq!(f.get(Field::MerchantId), Some("商户A"));

        // several keys for one field: the first non-null one wins, in document order
        let (_, f) = record(&items[2]);
        assert_eq!(f.get(Field::TerminalId), Some("FIRST"));
        assert_eq!(f.get(Field::ResponseCode), Some("00"));
        // a later duplicate with an object value is ignored unread, not a reject
        let (_, f) = record(&items[3]);
        assert_eq!(f.get(Field::TerminalId), Some("T9"));
    }

    #[test]
    fn user_mapping_overrides_aliases() {
        let m = Mapping::parse(&["terminal_id=Device Serial".to_string()]).unwrap();
        let items = read_all(
            br#"{"device_serial":"SN-1","tid":"ignored","rc":"00","time":"t"}"#,
            &m,
        );
        let (_, f) = record(&items[0]);
        assert_eq!(f.get(Field::TerminalId), Some("SN-1"));
    }

    #[test]
    fn broken_lines_do_not_lose_the_following_ones() {
        let items = parse(BROKEN);
        let summary: Vec<(u64, &str)> = items
            .iter()
            .map(|it| match it {
                Item::Record { line, .. } => (*line, "record"),
                Item::Reject { line, reason, .. } => (*line, reason.as_str()),
                Item::Skip { line, .. } => (*line, "skip"),
            })
            .collect();
        // line 3 and 9 are blank/whitespace: no item at all
        assert_eq!(summary[0], (1, "record"));
        assert!(summary[1].1.starts_with("invalid JSON: "), "{summary:?}");
        assert_eq!(summary[1].0, 2);
        assert_eq!(summary[2], (4, "record"));
        assert_eq!(summary[3], (5, "not a JSON object"));
        assert_eq!(summary[4], (6, "field terminal is not a scalar"));
        assert_eq!(summary[5], (7, "not a JSON object"));
        assert!(summary[6].1.starts_with("invalid JSON: "), "{summary:?}");
        assert_eq!(summary[6].0, 8);
        assert_eq!(summary[7], (10, "record"));
        assert_eq!(summary.len(), 8, "{summary:?}");

        let (_, f) = record(&items[7]);
        assert_eq!(f.get(Field::TerminalId), Some("T3"));
        let (_, _, excerpt) = reject_of(&items[1]);
        assert!(excerpt.starts_with(r#"{"timestamp":"2024-03-01T10:16:00Z","tid":"T2""#));
    }

    #[test]
    fn bom_and_crlf() {
        let input = format!("\u{feff}{}", TRANSACTIONS.replace('\n', "\r\n"));
        let with = parse(&input);
        assert_eq!(with, parse(TRANSACTIONS));
        let (_, f) = record(&with[0]);
        assert_eq!(f.get(Field::Timestamp), Some("2024-03-01T10:15:02+08:00"));
    }

    #[test]
    fn empty_and_blank_input_gives_no_items() {
        assert!(parse("").is_empty());
        assert!(parse("\n  \r\n\t\n").is_empty());
        assert!(parse("\u{feff}").is_empty());
    }

    #[test]
    fn last_line_without_newline_is_read() {
        let items = parse("{\"tid\":\"A\"}\n{\"tid\":\"B\"}");
        assert_eq!(items.len(), 2);
        assert_eq!(record(&items[1]).1.get(Field::TerminalId), Some("B"));
    }

    #[test]
    fn invalid_utf8_line_is_rejected_and_reading_goes_on() {
        let mut input = Vec::new();
        input.extend_from_slice(b"{\"tid\":\"A\",\"rc\":\"00\"}\n");
        input.extend_from_slice(b"{\"tid\":\"caf\xe9\",\"rc\":\"00\"}\n"); // Latin-1 é
        input.extend_from_slice(b"{\"tid\":\"C\",\"rc\":\"00\"}\n");
        let items = read_all(&input, &Mapping::default());
        assert_eq!(items.len(), 3);
        let (line, reason, excerpt) = reject_of(&items[1]);
        assert_eq!(line, 2);
        assert_eq!(reason, "undecodable bytes (not UTF-8)");
        assert!(excerpt.contains("caf\u{fffd}"));
        assert_eq!(record(&items[2]).1.get(Field::TerminalId), Some("C"));
    }

    #[test]
    fn sensitive_keys_never_reach_items() {
        let input = concat!(
            r#"{"tid":"T1","rc":"00","track2":"4761739001010119=25122011143857589","Pin Block":"9A3F00C1D2E4B7F0","CVV2":123}"#,
            "\n",
            r#"{"tid":"T1","rc":"00","track2":"4761739001010119=25122011143857589","pinblock":"9A3F00C1D2E4B7F0","cvv":"123","#,
            "\n",
        );
        let items = parse(input);
        assert_eq!(items.len(), 2);
        let dump = format!("{items:?}");
        assert!(!dump.contains("=2512"), "{dump}");
        assert!(!dump.contains("9A3F00C1"), "{dump}");
        assert!(!dump.contains("123"), "{dump}");
        let (_, _, excerpt) = reject_of(&items[1]);
        assert!(excerpt.contains(r#""track2":***"#), "{excerpt}");
    }

    #[test]
    fn mapped_key_with_array_value_is_rejected() {
        let items = parse(r#"{"rc":["00","05"],"tid":"T1"}"#);
        assert_eq!(reject_of(&items[0]).1, "field rc is not a scalar");
        // unmapped nested values are fine, brackets inside strings do not confuse the scan
        let items = parse(r#"{"meta":{"a":[1,{"b":"]}"}]},"tid":"T1","rc":"00"}"#);
        assert_eq!(record(&items[0]).1.get(Field::TerminalId), Some("T1"));
    }

    #[test]
    fn nested_value_is_fine_when_another_key_gives_the_field() {
        let items = parse(r#"{"terminal":{"id":"T9"},"tid":"T9","rc":"00"}"#);
        assert_eq!(record(&items[0]).1.get(Field::TerminalId), Some("T9"));
        // blank strings count as absent and do not claim the field
        let items = parse(r#"{"tid":"  ","terminal_id":"T1","rc":""}"#);
        let (_, f) = record(&items[0]);
        assert_eq!(f.get(Field::TerminalId), Some("T1"));
        assert_eq!(f.get(Field::ResponseCode), None);
    }

    #[test]
    fn excerpt_is_cut_to_200_chars_on_a_char_boundary() {
        let line = format!("{{\"tid\": \"{}", "é".repeat(500));
        let items = parse(&line);
        let (_, _, excerpt) = reject_of(&items[0]);
        assert_eq!(excerpt.chars().count(), 200);
    }

    #[test]
    fn overlong_line_is_rejected_without_losing_the_next() {
        let mut input = format!("{{\"tid\":\"{}\"}}\n", "x".repeat(MAX_LINE_BYTES + 10));
        input.push_str("{\"tid\":\"B\"}\n");
        let items = parse(&input);
        assert_eq!(items.len(), 2);
        let (line, reason, excerpt) = reject_of(&items[0]);
        assert_eq!((line, reason), (1, "line longer than 1 MiB"));
        assert_eq!(excerpt.chars().count(), 200);
        assert_eq!(record(&items[1]).0, 2);
    }

    #[test]
    fn small_read_buffers_give_the_same_items() {
        for text in [TRANSACTIONS, ALIASES, BROKEN] {
            let want = parse(text);
            for cap in [1, 3, 64] {
                let mut got = Vec::new();
                let input = io::BufReader::with_capacity(cap, text.as_bytes());
                read::<_, io::Error>(input, &Mapping::default(), &mut |it| {
                    got.push(it);
                    Ok(())
                })
                .unwrap();
                assert_eq!(got, want, "capacity {cap}");
            }
        }
    }

    #[test]
    fn io_errors_propagate() {
        struct Failing;
        impl io::Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let r = read::<_, io::Error>(
            io::BufReader::new(Failing),
            &Mapping::default(),
            &mut |_| Ok(()),
        );
        assert_eq!(r.unwrap_err().to_string(), "disk on fire");
    }

    #[test]
    fn every_truncation_is_safe_and_lines_increase() {
        let all = format!("{TRANSACTIONS}{ALIASES}{BROKEN}");
        for cut in 0..=all.len() {
            let items = read_all(&all.as_bytes()[..cut], &Mapping::default());
            let lines: Vec<u64> = items.iter().map(line_of).collect();
            assert!(
                lines.windows(2).all(|w| w[0] < w[1]),
                "cut {cut}: {lines:?}"
            );
        }
    }

    /// Cheap deterministic fuzzing: splice markup-ish bytes, invalid UTF-8 and deletions into
    /// the fixtures. Nothing may panic or hang, and line numbers never go backwards.
    #[test]
    fn mutated_input_never_panics() {
        let base = [TRANSACTIONS, ALIASES, BROKEN].concat().into_bytes();
        for input in crate::ingest::mutate::mutations(&base, 1500) {
            let items = read_all(&input, &Mapping::default());
            let lines: Vec<u64> = items.iter().map(line_of).collect();
            assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
        }
    }
}
