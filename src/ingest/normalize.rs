//! Turning raw field text into typed values: timestamps, response codes, amounts, and the
//! scrubbing of card numbers. Every function here either returns a clean value or a reason a
//! person can read in `rejects.csv`.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

/// Parse any timestamp form SPEC lists into epoch seconds (UTC).
///
/// Forms: RFC 3339 with offset (`T` or space); `YYYY-MM-DD HH:MM:SS[.f]`;
/// `YYYY-MM-DDTHH:MM:SS[.f]`; `YYYY/MM/DD HH:MM:SS[.f]`; `YYYYMMDDHHMMSS`; epoch seconds
/// (9–10 digits) or milliseconds (12–13 digits). Naive forms are local time in `tz`.
/// Sub-second parts are dropped: the cube is hourly.
pub fn parse_timestamp(raw: &str, tz: Tz) -> Result<i64, String> {
    let t = parse_any_timestamp(raw, tz)?;
    // chrono reads signed and five-digit years (`+22026-11-05`): no card payment has one, and
    // such a row is a broken field, not a transaction 20,000 years away.
    if (EARLIEST..=LATEST).contains(&t) {
        Ok(t)
    } else {
        Err(format!(
            "timestamp {:?} is outside the years 1900 to 2999",
            excerpt_of(raw.trim(), 40)
        ))
    }
}

/// 1900-01-01T00:00:00Z and 2999-12-31T23:59:59Z, the instants a timestamp may be.
const EARLIEST: i64 = -2_208_988_800;
const LATEST: i64 = 32_503_679_999;

fn parse_any_timestamp(raw: &str, tz: Tz) -> Result<i64, String> {
    let s = trim_fast(raw);
    if s.is_empty() {
        return Err("empty timestamp".into());
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return match s.len() {
            14 => NaiveDateTime::parse_from_str(s, "%Y%m%d%H%M%S")
                .map_err(|_| format!("unparseable timestamp {s:?}"))
                .and_then(|n| local_to_utc(n, tz, s)),
            9 | 10 => s.parse::<i64>().map_err(|e| e.to_string()),
            12 | 13 => s
                .parse::<i64>()
                .map(|ms| ms.div_euclid(1000))
                .map_err(|e| e.to_string()),
            _ => Err(unparseable(s)),
        };
    }
    // The common shapes, parsed by hand: chrono's format-driven parser costs about a
    // microsecond per attempt, and exports hold millions of rows.
    if let Some((naive, offset)) = fast_datetime(s.as_bytes()) {
        return match offset {
            Some(secs) => Ok(naive.and_utc().timestamp() - secs),
            None => local_to_utc(naive, tz, s),
        };
    }
    // With an explicit offset or Z: the instant is fixed, --tz does not apply.
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp());
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%:z") {
        return Ok(t.timestamp());
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Ok(t.timestamp());
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%z") {
        return Ok(t.timestamp());
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y/%m/%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return local_to_utc(n, tz, s);
        }
    }
    Err(unparseable(s))
}

/// Why `s` is not a timestamp: a date alone or a time alone (any shape [`parse_date_time`]
/// reads) is named as such, since the fix differs (a column to add or map).
fn unparseable(s: &str) -> String {
    if date_part(s).is_some_and(|_| !s.contains([' ', 'T'])) {
        format!("timestamp {s:?} has a date but no time")
    } else if time_of_day(s).is_some() && !s.bytes().all(|b| b.is_ascii_digit()) {
        format!("timestamp {s:?} has a time but no date (map the date column with --map date=YourHeader)")
    } else {
        format!("unparseable timestamp {s:?}")
    }
}

/// Combine a transaction date column and a time column (issue 11) into epoch seconds.
///
/// The date comes in any date shape [`parse_timestamp`] reads (`2026-11-05`, `2026/11/05`,
/// `20261105`), with one-digit months and days (`2026/11/5`) and as `2026年11月5日`; a time
/// after the date (`2026-11-05 00:00:00`, a date cell that kept its time) is ignored. The
/// time is `HH:MM[:SS[.f]]` (one-digit hours too, an optional offset or `Z`, an optional
/// `AM`/`PM`) or `HHMMSS` (`143005`; `93005` from a spreadsheet that dropped the leading
/// zero). When the time column holds a whole timestamp instead, that is read alone.
pub fn parse_date_time(date: &str, time: &str, tz: Tz) -> Result<i64, String> {
    let time = time.trim();
    let Some(clock) = time_of_day(time) else {
        return parse_timestamp(time, tz).map_err(|_| format!("unparseable time {time:?}"));
    };
    let date = date.trim();
    let day = date_part(date).ok_or_else(|| format!("unparseable date {date:?}"))?;
    parse_timestamp(&format!("{day} {clock}"), tz)
}

/// `YYYY-MM-DD` from the date shapes [`parse_date_time`] accepts.
fn date_part(s: &str) -> Option<String> {
    let s = s.split([' ', 'T']).next()?;
    let (y, m, d) = if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        (
            s[..4].parse().ok()?,
            s[4..6].parse().ok()?,
            s[6..].parse().ok()?,
        )
    } else {
        let s = s.strip_suffix('日').unwrap_or(s);
        let mut parts = s.split(['-', '/', '.', '年', '月']);
        let y = parts.next().filter(|y| y.len() == 4)?;
        let m = parts.next().filter(|m| (1..=2).contains(&m.len()))?;
        let d = parts.next().filter(|d| (1..=2).contains(&d.len()))?;
        if parts.next().is_some() {
            return None;
        }
        (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
    };
    let date = NaiveDate::from_ymd_opt(y, m, d)?;
    Some(date.format("%Y-%m-%d").to_string())
}

/// `HH:MM:SS` plus whatever followed the seconds (a fraction, an offset), from the time
/// shapes [`parse_date_time`] accepts; None when `s` is not a time of day.
fn time_of_day(s: &str) -> Option<String> {
    if s.bytes().all(|b| b.is_ascii_digit()) {
        // HHMMSS, or HMMSS from a numeric cell that lost its leading zero.
        let padded = match s.len() {
            6 => s.to_string(),
            5 => format!("0{s}"),
            _ => return None,
        };
        return Some(format!(
            "{}:{}:{}",
            &padded[..2],
            &padded[2..4],
            &padded[4..]
        ));
    }
    let (s, half) = match s.len().checked_sub(2).and_then(|i| s.get(i..)) {
        Some(ap) if ap.eq_ignore_ascii_case("am") => (s[..s.len() - 2].trim_end(), Some(0)),
        Some(ap) if ap.eq_ignore_ascii_case("pm") => (s[..s.len() - 2].trim_end(), Some(12)),
        _ => (s, None),
    };
    let (h, rest) = s.split_once(':')?;
    let mut hour: u32 = (matches!(h.len(), 1 | 2) && h.bytes().all(|b| b.is_ascii_digit()))
        .then(|| h.parse().ok())??;
    let minute = rest
        .get(..2)
        .filter(|m| m.bytes().all(|b| b.is_ascii_digit()))?;
    let rest = &rest[2..];
    let (second, tail) = match rest.strip_prefix(':') {
        Some(r) => (
            r.get(..2)
                .filter(|x| x.bytes().all(|b| b.is_ascii_digit()))?,
            &r[2..],
        ),
        None => ("00", rest),
    };
    if let Some(add) = half {
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour = hour % 12 + add;
    }
    // What may follow: a fraction, then Z or an offset; parse_timestamp checks them.
    if !tail.is_empty() && !tail.starts_with(['.', 'Z', 'z', '+', '-']) {
        return None;
    }
    Some(format!("{hour:02}:{minute}:{second}{tail}"))
}

/// `YYYY-MM-DD HH:MM:SS` (also `T` between, `/` in the date), optional fraction, optional `Z`,
/// `±HH:MM` or `±HHMM`. Returns the date-time and the offset in seconds, if one was given;
/// None for anything else (the general parser then decides).
fn fast_datetime(b: &[u8]) -> Option<(NaiveDateTime, Option<i64>)> {
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let digits = b.get(r)?;
        digits.iter().try_fold(0u32, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + (d - b'0') as u32)
        })
    };
    if b.len() < 19
        || !matches!(b[4], b'-' | b'/')
        || b[7] != b[4]
        || !matches!(b[10], b' ' | b'T')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let time = chrono::NaiveTime::from_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)?;
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset = match b.get(i) {
        None => None,
        Some(b'Z' | b'z') if i + 1 == b.len() => Some(0),
        Some(&sign @ (b'+' | b'-')) => {
            let rest = &b[i + 1..];
            let (h, m) = match rest.len() {
                5 if rest[2] == b':' => (num(i + 1..i + 3)?, num(i + 4..i + 6)?),
                4 => (num(i + 1..i + 3)?, num(i + 3..i + 5)?),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let secs = (h * 3600 + m * 60) as i64;
            Some(if sign == b'+' { secs } else { -secs })
        }
        _ => return None,
    };
    Some((date.and_time(time), offset))
}

/// Resolve a naive local time in `tz`. In the autumn overlap the earlier instant is taken
/// (devices log the first pass); in the spring gap, which a DST-aware clock never shows,
/// the time is read with the offset from before the gap (it is an hour-unaware device clock).
fn local_to_utc(n: NaiveDateTime, tz: Tz, raw: &str) -> Result<i64, String> {
    match tz.from_local_datetime(&n) {
        LocalResult::Single(t) => Ok(t.timestamp()),
        LocalResult::Ambiguous(a, _) => Ok(a.timestamp()),
        LocalResult::None => {
            let before = tz
                .from_local_datetime(&(n - chrono::Duration::hours(3)))
                .earliest()
                .ok_or_else(|| format!("timestamp {raw:?} does not exist in {tz}"))?;
            Ok(before.timestamp() + 3 * 3600)
        }
    }
}

/// The response code of a card request that got no response within the timeout (issue 12):
/// the jPOS reader writes it, the catalogs class it `network`, and [`normalize_code`] lets it
/// through as it is although it is longer than a code and holds a `_`.
pub const NO_RESPONSE: &str = "NO_RESPONSE";

/// What normalising a response code changed, for the reconciliation notes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CodeNote {
    /// A one-digit numeric code was read as two digits (`5` → `05`).
    pub padded: bool,
    /// The code came with its description (`05-Do not honour`); the text was dropped.
    pub text_dropped: bool,
}

/// A response code as text. One-digit numeric codes (a spreadsheet dropped the leading zero)
/// become two digits; the bool says so, so the run can count it. Letters are upper-cased
/// (`a0` is CUP's `A0`).
pub fn normalize_code(raw: &str) -> Result<(String, bool), String> {
    normalize_code_ref(raw).map(|(c, note)| (c.into_owned(), note.padded))
}

/// [`normalize_code`] without an allocation when the code is already clean (the hot path).
///
/// A code exported with its text (`05-Do not honour`, `51 资金不足`, `Z3: offline declined`)
/// is only looked at when the value is not a clean code, so clean files pay nothing for it:
/// see [`split_code_text`] for what counts as "a code and its description".
pub fn normalize_code_ref(raw: &str) -> Result<(std::borrow::Cow<'_, str>, CodeNote), String> {
    use std::borrow::Cow;
    let s = trim_fast(raw);
    let s = if s.starts_with('"') || s.ends_with('"') {
        s.trim_matches('"').trim()
    } else {
        s
    };
    if s.is_empty() {
        return Err("empty response code".into());
    }
    let mut note = CodeNote::default();
    let s = if s.len() > 8 || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        // The one code longer than 8 characters, and the only one with a `_`: it is not a
        // field 39 value but what the jPOS reader writes for a request that got no answer,
        // and a CSV of such rows may spell it in any case.
        if s.eq_ignore_ascii_case(NO_RESPONSE) {
            return Ok((Cow::Borrowed(NO_RESPONSE), note));
        }
        match split_code_text(s) {
            Some(code) => {
                note.text_dropped = true;
                code
            }
            None => return Err(format!("invalid response code {:?}", excerpt_of(s, 20))),
        }
    } else {
        s
    };
    if s.len() == 1 && s.as_bytes()[0].is_ascii_digit() {
        note.padded = true;
        return Ok((Cow::Owned(format!("0{s}")), note));
    }
    if s.bytes().any(|b| b.is_ascii_lowercase()) {
        return Ok((Cow::Owned(s.to_ascii_uppercase()), note));
    }
    Ok((Cow::Borrowed(s), note))
}

/// Separators between a code and its description in exports: ` 05-Do not honour`,
/// `51 资金不足`, `Z3: offline declined`, `05/Do not honour`, `05|拒绝`, `05（拒绝）`.
fn is_code_text_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | ':' | '/' | '|' | '(' | '[' | '：' | '－' | '–' | '—' | '（' | '｜' | '／'
        )
}

/// The leading code of `05-Do not honour`, when the rest is clearly its description: the
/// code is 1–4 ASCII letters and digits with at least one digit (`05`, `Z3`, `A0`, `9997`;
/// a word such as `Declined` is not a code), a separator follows it, and what is left after
/// the separators holds a letter (any script) and does not start with a digit (`0 5` or
/// `05/51` are not a code and its text: they stay rejected).
fn split_code_text(s: &str) -> Option<&str> {
    let end = s.find(|c: char| !c.is_ascii_alphanumeric())?;
    let (code, rest) = s.split_at(end);
    if code.is_empty() || code.len() > 4 || !code.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    if !rest.starts_with(is_code_text_separator) {
        return None;
    }
    let text = rest.trim_start_matches(is_code_text_separator);
    let starts_with_digit = text.starts_with(|c: char| c.is_ascii_digit());
    (!starts_with_digit && text.chars().any(char::is_alphabetic)).then_some(code)
}

/// Currencies without minor units (ISO 4217 exponent 0), by alpha and numeric code.
pub const EXPONENT_0: [&str; 10] = [
    "JPY", "392", "KRW", "410", "VND", "704", "CLP", "152", "ISK", "352",
];

/// Currencies with three decimals (ISO 4217 exponent 3). Every other currency has two.
pub const EXPONENT_3: [&str; 14] = [
    "BHD", "048", "KWD", "414", "OMR", "512", "JOD", "400", "TND", "788", "IQD", "368", "LYD",
    "434",
];

/// Minor-unit exponent of a currency (ISO 4217), by alpha or numeric code. Most are 2.
pub fn currency_exponent(currency: Option<&str>) -> u32 {
    // Compared as one integer, upper-cased on the stack: this runs once per row.
    const fn code(c: &[u8]) -> u32 {
        (c[0] as u32) << 16 | (c[1] as u32) << 8 | c[2] as u32
    }
    const fn codes<const N: usize>(list: [&str; N]) -> [u32; N] {
        let mut out = [0; N];
        let mut i = 0;
        while i < N {
            out[i] = code(list[i].as_bytes());
            i += 1;
        }
        out
    }
    const ZERO: [u32; 10] = codes(EXPONENT_0);
    const THREE: [u32; 14] = codes(EXPONENT_3);
    let Some(c) = currency.map(str::trim).filter(|c| c.len() == 3) else {
        return 2;
    };
    let b = c.as_bytes();
    let k = code(&[
        b[0].to_ascii_uppercase(),
        b[1].to_ascii_uppercase(),
        b[2].to_ascii_uppercase(),
    ]);
    if ZERO.contains(&k) {
        0
    } else if THREE.contains(&k) {
        3
    } else {
        2
    }
}

/// `s.trim()`, with a shortcut for the usual field that has nothing to trim.
pub fn trim_fast(s: &str) -> &str {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) if f > b' ' && f < 0x80 && l > b' ' && l < 0x80 => s,
        _ => s.trim(),
    }
}

/// Parse an amount into integer minor units. `minor` says the text is already in minor units
/// (ISO 8583 field 4); otherwise it is a decimal in major units (`12.50`) as exports show it.
/// `currency` is the row's currency column (it decides the number of decimals).
///
/// The plain form (`12.50`, `-3.00`) is read first and in place; only when that fails is the
/// text read as people write amounts ([`written_amount`]): thousands separators, currency
/// symbols and codes, signs and brackets, and a decimal comma when `decimal_comma` (the file
/// is `;`-separated, as European exports are). A code written with the amount (`JPY 500`)
/// decides the decimals when the row has no currency column.
pub fn parse_amount(
    raw: &str,
    minor: bool,
    currency: Option<&str>,
    decimal_comma: bool,
) -> Option<i64> {
    let s = trim_fast(raw);
    let exponent = currency_exponent(currency);
    if let Some(v) = parse_plain_amount(s, minor, exponent) {
        return Some(v);
    }
    let w = written_amount(s, decimal_comma)?;
    let exponent = match (currency, w.code) {
        (None, Some(code)) => currency_exponent(Some(code)),
        _ => exponent,
    };
    parse_plain_amount(&w.number, minor, exponent)
}

/// An amount as written by a person or a spreadsheet, brought to the plain form.
#[derive(Debug, PartialEq, Eq)]
struct WrittenAmount<'a> {
    /// `-1234.50`: an optional minus, digits, an optional point and digits.
    number: String,
    /// A three-letter currency code written before or after the number (`RMB 12.00`).
    code: Option<&'a str>,
}

/// Currency signs seen before or after amounts in exports (longest first, so `HK$` is not
/// read as `$`). `元` and `圆` are the yuan written after the number (`12.00元`).
const CURRENCY_SIGNS: &[&str] = &[
    "HK$", "US$", "NT$", "S$", "A$", "C$", "R$", "¥", "￥", "$", "€", "£", "₩", "₹", "元", "圆",
];

/// Read `"1,234.50"`, `¥9.00`, `RMB 12.00`, `12.00 CNY`, `-¥20.00`, `(20.00)`, `20.00-`,
/// `1.234,50` and (in `;` files) `12,50` as a plain number. None when the text is not an
/// amount (letters left over, digits grouped wrongly such as `12,50` in a `,` file).
fn written_amount(s: &str, decimal_comma: bool) -> Option<WrittenAmount<'_>> {
    let mut rest = s.trim();
    let mut negative = false;
    let mut code = None;
    // Signs, brackets, currency signs and codes can come in any order around the number:
    // peel them off both ends until only the number is left.
    loop {
        let before = rest;
        if let Some(r) = rest.strip_prefix(['-', '−']) {
            negative = true;
            rest = r;
        } else if let Some(r) = rest.strip_suffix(['-', '−']) {
            negative = true;
            rest = r;
        } else if let Some(r) = rest.strip_prefix('+') {
            rest = r;
        } else if let Some(r) = rest
            .strip_prefix(['(', '（'])
            .and_then(|r| r.strip_suffix([')', '）']))
        {
            negative = true;
            rest = r;
        } else if let Some(r) = CURRENCY_SIGNS
            .iter()
            .find_map(|c| rest.strip_prefix(c).or_else(|| rest.strip_suffix(c)))
        {
            rest = r;
        } else if let Some((c, r)) = currency_code_prefix(rest) {
            code = Some(c);
            rest = r;
        } else if let Some((r, c)) = currency_code_suffix(rest) {
            code = Some(c);
            rest = r;
        }
        rest = rest.trim();
        if rest == before {
            break;
        }
    }
    let number = plain_number(rest, decimal_comma)?;
    Some(WrittenAmount {
        number: if negative {
            format!("-{number}")
        } else {
            number
        },
        code,
    })
}

fn currency_code_prefix(s: &str) -> Option<(&str, &str)> {
    let code = s.get(..3)?;
    let next = s[3..].chars().next()?;
    (code.bytes().all(|b| b.is_ascii_alphabetic()) && !next.is_alphabetic())
        .then(|| (code, &s[3..]))
}

fn currency_code_suffix(s: &str) -> Option<(&str, &str)> {
    let at = s.len().checked_sub(3)?;
    let code = s.get(at..)?;
    let prev = s[..at].chars().next_back()?;
    (code.bytes().all(|b| b.is_ascii_alphabetic()) && !prev.is_alphabetic())
        .then(|| (&s[..at], code))
}

/// Digits with thousands separators (`,` `.` space, no-break space, `'`) and one decimal
/// separator, as `1234.50`. The decimal separator is the last `.` or `,` when both occur;
/// a lone `,` is decimal only with `decimal_comma`; a separator that occurs more than once
/// is a thousands separator. Thousands groups must be three digits, so a misread decimal
/// comma (`12,50` in a `,` file) is refused rather than read as 1250.
fn plain_number(s: &str, decimal_comma: bool) -> Option<String> {
    if s.is_empty() || !s.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    let is_group = |c: char| matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\'');
    if !s
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == ',' || is_group(c))
    {
        return None;
    }
    let (points, commas) = (s.matches('.').count(), s.matches(',').count());
    let decimal = match (points, commas) {
        (0, 0) => None,
        (1, 0) => Some('.'),
        (0, 1) if decimal_comma => Some(','),
        (_, 0) | (0, _) => None,
        _ => {
            let last = s.rfind(['.', ','])?;
            let sep = s[last..].chars().next()?;
            if s.matches(sep).count() != 1 {
                return None;
            }
            Some(sep)
        }
    };
    let (int, frac) = match decimal {
        Some(d) => s.split_once(d)?,
        None => (s, ""),
    };
    if frac.contains(|c: char| !c.is_ascii_digit()) {
        return None;
    }
    // The integer part: groups of three after the first, split by one kind of separator.
    let mut groups = int.split(|c: char| c == '.' || c == ',' || is_group(c));
    let first = groups.next()?;
    let mut digits = String::from(first);
    if first.is_empty() && int.len() > first.len() {
        return None;
    }
    for g in groups {
        if g.len() != 3 {
            return None;
        }
        digits.push_str(g);
    }
    if digits.is_empty() && frac.is_empty() {
        return None;
    }
    Some(if frac.is_empty() {
        digits
    } else {
        format!("{digits}.{frac}")
    })
}

fn parse_plain_amount(s: &str, minor: bool, exponent: u32) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    // jPOS' ISOAmount writes field 4 as a decimal (`12.50`): a point means major units.
    if minor && !s.contains('.') {
        return s.parse::<i64>().ok();
    }
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > exponent as usize && frac[exponent as usize..].bytes().any(|b| b != b'0') {
        return None; // more precision than the currency has: not an amount we can trust
    }
    let scale = 10i64.pow(exponent);
    let int_part: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    // The first `exponent` fraction digits, padded with zeros (`.5` is 50 cents).
    let frac_part = (0..exponent as usize).fold(0i64, |acc, i| {
        acc * 10 + frac.as_bytes().get(i).map_or(0, |d| (d - b'0') as i64)
    });
    let v = int_part.checked_mul(scale)?.checked_add(frac_part)?;
    Some(if neg { -v } else { v })
}

/// Cut a card number to first six and last four (PCI DSS 3.4.1), e.g. `411111******1111`.
/// Anything too short to be a PAN is masked completely.
pub fn mask_pan(raw: &str) -> String {
    let digits: Vec<char> = raw.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.len() < 13 {
        return "*".repeat(digits.len().max(4));
    }
    let n = digits.len();
    let mut out: String = digits[..6].iter().collect();
    out.push_str(&"*".repeat(n - 10));
    out.extend(&digits[n - 4..]);
    out
}

/// The Luhn check (ISO/IEC 7812) over a digit string.
pub fn luhn_valid(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = (d - b'0') as u32;
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

/// Mask every 13–19 digit run that passes the Luhn check (digits may be grouped by single
/// spaces or dashes, as printed on receipts), keeping first six and last four digits.
/// Used on every excerpt before it is written: a rejected row may hold a PAN in any column.
pub fn scrub_pans(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() || (i > 0 && chars[i - 1].is_ascii_digit()) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // Longest run of digits with single separators starting at i.
        let mut j = i;
        let mut digit_pos = Vec::new();
        while j < chars.len() {
            if chars[j].is_ascii_digit() {
                digit_pos.push(j);
                j += 1;
            } else if (chars[j] == ' ' || chars[j] == '-')
                && j + 1 < chars.len()
                && chars[j + 1].is_ascii_digit()
                && j > i
            {
                j += 1;
            } else {
                break;
            }
        }
        let run: Vec<char> = chars[i..j].to_vec();
        let digits: Vec<u8> = digit_pos.iter().map(|&p| chars[p] as u8).collect();
        let masked = mask_run(&digits);
        match masked {
            Some(keep) => {
                // Mask digits by position within the run, keep separators.
                let mut k = 0;
                for c in run {
                    if c.is_ascii_digit() {
                        out.push(if keep(k) { c } else { '*' });
                        k += 1;
                    } else {
                        out.push(c);
                    }
                }
            }
            None => out.extend(run),
        }
        i = j;
    }
    out
}

/// For a maximal digit run: if it is 13–19 digits and Luhn-valid, which digit positions to
/// keep (first six, last four). Longer runs are not PANs (reference numbers, timestamps glued
/// together); shorter ones cannot be.
fn mask_run(digits: &[u8]) -> Option<impl Fn(usize) -> bool> {
    let n = digits.len();
    if !(13..=19).contains(&n) || !luhn_valid(digits) {
        return None;
    }
    Some(move |k: usize| k < 6 || k >= n - 4)
}

/// The excerpt of text that may hold card numbers: masked before the cut, so a card number
/// straddling it cannot leave its first digits, and again after it, because the cut can turn a
/// longer digit run that is no card number (a 15-digit merchant id) into a 13-digit one that
/// passes the Luhn check (fuzz finding `ingest_jpos/excerpt-cut-makes-luhn-run`).
pub fn masked_excerpt(s: &str, max_chars: usize) -> String {
    scrub_pans(&excerpt_of(&scrub_pans(s), max_chars))
}

/// A char-boundary-safe prefix of `s`, with an ellipsis when cut.
pub fn excerpt_of(s: &str, max_chars: usize) -> String {
    let mut out: String = s.chars().take(max_chars).collect();
    if s.chars().count() > max_chars {
        out.push('…');
    }
    out
}

/// How a card was read, from `entry_mode` (ISO 8583 field 22 or an export's spelling): chip
/// reads apart from chip cards read by magstripe after the chip failed (the fallback rate),
/// and each reader apart (a terminal whose contactless reader fails while its chip reader
/// works).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryMode {
    /// By contact chip (`05`, `chip`, `emv`, `icc`, `dip`, `insert`…).
    Chip,
    /// Contactless, chip or magstripe emulation (`07`, `91`, `contactless`, `nfc`, `tap`…).
    Contactless,
    /// A chip card read by magstripe after a failed chip read: `80` (ISO 8583 field 22's
    /// "chip fallback to magnetic stripe", also as `801`), or a spelling with `fallback`.
    Fallback,
    /// Magstripe (`02`, `90`, `swipe`, `magstripe`). A plain `90` is not a fallback:
    /// magstripe-only cards are read that way too, and whether the card had a chip is in the
    /// service code, which logs do not carry.
    Swipe,
    /// Keyed by hand (`01`, `manual`, `keyed`, `moto`).
    Keyed,
    /// Unknown or empty.
    Other,
}

impl EntryMode {
    /// By chip, contact or contactless: the denominator of the fallback rate.
    pub fn is_chip(self) -> bool {
        matches!(self, EntryMode::Chip | EntryMode::Contactless)
    }
}

pub fn entry_mode(raw: &str) -> EntryMode {
    let t = trim_fast(raw);
    let b = t.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_digit() && b[1].is_ascii_digit() {
        return match &b[..2] {
            b"80" => EntryMode::Fallback,
            b"05" => EntryMode::Chip,
            b"07" | b"91" => EntryMode::Contactless,
            b"02" | b"90" => EntryMode::Swipe,
            b"01" => EntryMode::Keyed,
            _ => EntryMode::Other,
        };
    }
    // Called on every row: the usual spellings are matched whole, without allocating.
    let is = |w: &str| t.eq_ignore_ascii_case(w);
    if is("chip") {
        return EntryMode::Chip;
    }
    if is("contactless") {
        return EntryMode::Contactless;
    }
    if is("magstripe") || is("swipe") {
        return EntryMode::Swipe;
    }
    if is("manual") || is("keyed") {
        return EntryMode::Keyed;
    }
    if t.is_empty() {
        return EntryMode::Other;
    }
    let has = |w: &[u8]| {
        t.as_bytes()
            .windows(w.len())
            .any(|x| x.eq_ignore_ascii_case(w))
    };
    const CONTACTLESS: [&[u8]; 5] = [b"contactless", b"nfc", b"tap", b"wave", b"\xe9\x97\xaa"];
    const CHIP: [&[u8]; 6] = [b"chip", b"emv", b"icc", b"dip", b"insert", b"\xe6\x8f\x92"];
    const SWIPE: [&[u8]; 3] = [b"swipe", b"mag", b"\xe5\x88\xb7"];
    const KEYED: [&[u8]; 3] = [b"key", b"manual", b"moto"];
    if has(b"fallback") {
        EntryMode::Fallback
    } else if CONTACTLESS.iter().any(|w| has(w)) {
        EntryMode::Contactless
    } else if CHIP.iter().any(|w| has(w)) {
        EntryMode::Chip
    } else if SWIPE.iter().any(|w| has(w)) {
        EntryMode::Swipe
    } else if KEYED.iter().any(|w| has(w)) {
        EntryMode::Keyed
    } else {
        EntryMode::Other
    }
}

/// `latency_ms`: a non-negative number of milliseconds (`850`, `850.5`); None otherwise.
pub fn parse_latency_ms(raw: &str) -> Option<f64> {
    let t = trim_fast(raw);
    // Whole milliseconds, the usual form: read as an integer (a float parse per row costs).
    if !t.is_empty() && t.len() <= 15 && t.bytes().all(|b| b.is_ascii_digit()) {
        return Some(t.bytes().fold(0u64, |v, b| v * 10 + (b - b'0') as u64) as f64);
    }
    let v: f64 = t.parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v)
}

/// The card part of a purchase key: first six and last four digits of `pan` (what survives
/// masking, PCI DSS 3.4.1), as one number; the digits themselves when fewer than ten.
pub fn card_print(raw: &str) -> u64 {
    let b = raw.as_bytes();
    // The usual value, masked or not (`622848******1234`): six digits first and four last
    // make at least ten digits, and are the ones kept, whatever lies between.
    if b.len() >= 10
        && b[..6]
            .iter()
            .chain(&b[b.len() - 4..])
            .all(u8::is_ascii_digit)
    {
        return b[..6].iter().chain(&b[b.len() - 4..]).fold(0u64, |v, &d| {
            v.wrapping_mul(11).wrapping_add((d - b'0') as u64 + 1)
        });
    }
    // Otherwise one pass, no allocation: the digits go into a small buffer (a card number
    // has at most 19), then the first six and last four are kept.
    let mut digits = [0u8; 32];
    let mut n = 0usize;
    for b in raw.bytes() {
        if b.is_ascii_digit() {
            if n < digits.len() {
                digits[n] = b - b'0';
            }
            n += 1;
        }
    }
    let held = n.min(digits.len());
    let keep = |i: usize| n < 10 || i < 6 || i >= held.saturating_sub(4);
    // Short values keep their length (so `12` and `012` differ); card numbers do not (masked
    // or not, a card is its first six and last four).
    let mut v: u64 = if n < 10 { n as u64 + 1 } else { 0 };
    for (i, &d) in digits[..held].iter().enumerate() {
        if keep(i) {
            v = v.wrapping_mul(11).wrapping_add(d as u64 + 1);
        }
    }
    v
}

#[cfg(test)]
mod beyond_tests {
    use super::*;

    #[test]
    fn entry_modes_in_their_iso_and_export_spellings() {
        for v in [
            "80",
            "801",
            " 800 ",
            "fallback",
            "Chip Fallback",
            "FALLBACK_MAGSTRIPE",
        ] {
            assert_eq!(entry_mode(v), EntryMode::Fallback, "{v}");
        }
        for v in ["05", "051", "chip", "EMV", "ICC read", "插卡"] {
            assert_eq!(entry_mode(v), EntryMode::Chip, "{v}");
        }
        for v in ["07", "071", "91", "Contactless", "nfc", "Tap", "闪付"] {
            assert_eq!(entry_mode(v), EntryMode::Contactless, "{v}");
            assert!(entry_mode(v).is_chip());
        }
        for v in ["90", "901", "02", "magstripe", "Swipe", "刷卡"] {
            assert_eq!(entry_mode(v), EntryMode::Swipe, "{v}");
        }
        for v in ["01", "manual", "Keyed", "MOTO"] {
            assert_eq!(entry_mode(v), EntryMode::Keyed, "{v}");
        }
        for v in ["", "8", "00", "unknown"] {
            assert_eq!(entry_mode(v), EntryMode::Other, "{v}");
        }
    }

    #[test]
    fn latency_and_card_prints() {
        assert_eq!(parse_latency_ms("850"), Some(850.0));
        assert_eq!(parse_latency_ms(" 12.5 "), Some(12.5));
        assert_eq!(parse_latency_ms("-1"), None);
        assert_eq!(parse_latency_ms("fast"), None);
        // Masked or not, the same card has the same print; another last four differs.
        assert_eq!(
            card_print("6228480000001234"),
            card_print("622848******1234")
        );
        assert_ne!(
            card_print("622848******1234"),
            card_print("622848******1235")
        );
        assert_ne!(card_print(""), card_print("1234"));
        // The shortcut for six digits first and four last gives what the digit walk gives.
        assert_eq!(
            card_print("6228480000001234"),
            card_print(" 622848-0000-00-1234 ")
        );
        assert_eq!(
            card_print("622848******1234"),
            card_print("x622848******1234")
        );
        assert_eq!(card_print("4111111111"), card_print("41111 11111"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp()
    }

    #[test]
    fn timestamp_forms() {
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        let want = utc("2026-11-09T10:00:00+08:00");
        for s in [
            "2026-11-09T10:00:00+08:00",
            "2026-11-09 02:00:00Z",
            "2026-11-09T02:00:00.250Z",
            "2026-11-09 10:00:00",
            "2026-11-09T10:00:00.5",
            "2026/11/09 10:00:00",
            "20261109100000",
            "1794189600",
            "1794189600000",
        ] {
            assert_eq!(parse_timestamp(s, tz), Ok(want), "{s}");
        }
        assert!(parse_timestamp("", tz).is_err());
        assert!(parse_timestamp("yesterday", tz).is_err());
        assert!(parse_timestamp("2026-13-01 00:00:00", tz).is_err());
        assert!(parse_timestamp("2026-11-09", tz)
            .unwrap_err()
            .contains("no time"));
        assert!(parse_timestamp("2026/11/09", tz)
            .unwrap_err()
            .contains("no time"));
        assert!(parse_timestamp("14:30:05", tz)
            .unwrap_err()
            .contains("has a time but no date"));
    }

    #[test]
    fn split_date_and_time_issue_11() {
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        let want = utc("2026-11-05T14:30:05+08:00");
        for (d, t) in [
            ("2026-11-05", "14:30:05"),
            ("20261105", "143005"),
            ("2026/11/05", "14:30:05"),
            ("2026/11/5", "2:30:05 PM"),
            ("2026年11月5日", "14:30:05"),
            ("2026-11-05 00:00:00", "14:30:05.250"),
            ("2026-11-05", "06:30:05Z"),
            ("2026-11-05", "14:30:05+08:00"),
            // The time column holds the whole timestamp: the date column is redundant.
            ("2026-11-05", "2026-11-05 14:30:05"),
        ] {
            assert_eq!(parse_date_time(d, t, tz), Ok(want), "{d} + {t}");
        }
        assert_eq!(
            parse_date_time("20261105", "93005", tz),
            Ok(utc("2026-11-05T09:30:05+08:00"))
        );
        assert_eq!(
            parse_date_time("2026-11-05", "14:30", tz),
            Ok(utc("2026-11-05T14:30:00+08:00"))
        );
        assert_eq!(
            parse_date_time("2026-11-05", "12:10:00 AM", tz),
            Ok(utc("2026-11-05T00:10:00+08:00"))
        );
        for (d, t) in [
            ("05/11/2026", "14:30:05"),
            ("2026-11-31", "14:30:05"),
            ("20261105", "1430"),
            ("20261105", "25:30:05"),
            ("20261105", "14:30:05 abc"),
            ("", "14:30:05"),
            ("20261105", "13:00 PM"),
        ] {
            assert!(parse_date_time(d, t, tz).is_err(), "{d} + {t}");
        }
    }

    #[test]
    fn dst_gap_and_overlap() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        // 2026-03-29 02:30 does not exist in Berlin; read with the winter offset (+01:00).
        assert_eq!(
            parse_timestamp("2026-03-29 02:30:00", tz),
            Ok(utc("2026-03-29T01:30:00Z"))
        );
        // 2026-10-25 02:30 happens twice; the first (summer, +02:00) is taken.
        assert_eq!(
            parse_timestamp("2026-10-25 02:30:00", tz),
            Ok(utc("2026-10-25T00:30:00Z"))
        );
    }

    #[test]
    fn codes_stay_text() {
        assert_eq!(normalize_code("05"), Ok(("05".into(), false)));
        assert_eq!(normalize_code("5"), Ok(("05".into(), true)));
        assert_eq!(normalize_code(" a0 "), Ok(("A0".into(), false)));
        assert_eq!(normalize_code("9997"), Ok(("9997".into(), false)));
        assert!(normalize_code("").is_err());
        assert!(normalize_code("0 5").is_err());
    }

    /// Issue 12: `NO_RESPONSE`, in any case, is the one longer code that passes, unchanged;
    /// its near misses stay refused.
    #[test]
    fn no_response_is_the_one_long_code() {
        for raw in [
            "NO_RESPONSE",
            "no_response",
            " No_Response ",
            "\"NO_RESPONSE\"",
        ] {
            assert_eq!(
                normalize_code_ref(raw).map(|(c, n)| (c.into_owned(), n)),
                Ok(("NO_RESPONSE".into(), CodeNote::default())),
                "{raw}"
            );
        }
        for bad in [
            "NO-RESPONSE",
            "NO_RESPONSES",
            "NORESPONSE",
            "NO_RESP",
            "NO RESPONSE",
            "X_Y",
            "TIMED_OUT",
        ] {
            assert!(normalize_code(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn codes_with_their_text_issue_11() {
        let text = |raw: &str| {
            normalize_code_ref(raw).map(|(c, n)| (c.into_owned(), n.padded, n.text_dropped))
        };
        assert_eq!(text("05-Do not honour"), Ok(("05".into(), false, true)));
        assert_eq!(text("51 资金不足"), Ok(("51".into(), false, true)));
        assert_eq!(text("\"00 \""), Ok(("00".into(), false, false)));
        assert_eq!(text("z3: offline declined"), Ok(("Z3".into(), false, true)));
        assert_eq!(text("5 - Do not honour"), Ok(("05".into(), true, true)));
        assert_eq!(text("9997|无法验证"), Ok(("9997".into(), false, true)));
        assert_eq!(text("05（拒绝）"), Ok(("05".into(), false, true)));
        // Not a code and its description: still rejected.
        for bad in [
            "0 5",
            "05/51",
            "Declined: no funds",
            "05-",
            "05 - 12",
            "12345 text",
            "05_Do not honour",
        ] {
            assert!(text(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn amounts_in_minor_units() {
        let cny = Some("CNY");
        assert_eq!(parse_amount("12.50", false, cny, false), Some(1250));
        assert_eq!(parse_amount("12.5", false, None, false), Some(1250));
        assert_eq!(parse_amount("1,234", false, cny, false), Some(123400));
        assert_eq!(parse_amount("-3.00", false, cny, false), Some(-300));
        assert_eq!(parse_amount("500", false, Some("JPY"), false), Some(500));
        assert_eq!(parse_amount("000000001250", true, cny, false), Some(1250));
        assert_eq!(parse_amount("12.50", true, cny, false), Some(1250));
        assert_eq!(parse_amount("12.505", false, cny, false), None);
        assert_eq!(parse_amount("abc", false, cny, false), None);
        assert_eq!(currency_exponent(Some("jpy")), 0);
    }

    #[test]
    fn amounts_as_people_write_them_issue_11() {
        let read = |s: &str, dc: bool| parse_amount(s, false, None, dc);
        assert_eq!(read("1,234.50", false), Some(123450));
        assert_eq!(read("¥9.00", false), Some(900));
        assert_eq!(read("￥9", false), Some(900));
        assert_eq!(read("RMB 12.00", false), Some(1200));
        assert_eq!(read("12.00 CNY", false), Some(1200));
        assert_eq!(read("12.00元", false), Some(1200));
        assert_eq!(read("-¥20.00", false), Some(-2000));
        assert_eq!(read("¥-20.00", false), Some(-2000));
        assert_eq!(read("(20.00)", false), Some(-2000));
        assert_eq!(read("20.00-", false), Some(-2000));
        assert_eq!(read("HK$1,000", false), Some(100000));
        assert_eq!(read("12,50", true), Some(1250));
        assert_eq!(read("1.234,50", true), Some(123450));
        assert_eq!(read("1 234,50 €", true), Some(123450));
        assert_eq!(read("1,234,567.8", false), Some(123456780));
        // A code written with the amount decides the decimals when there is no column.
        assert_eq!(read("JPY 500", false), Some(500));
        assert_eq!(
            parse_amount("JPY 500", false, Some("CNY"), false),
            Some(50000)
        );
        // Still not amounts: they keep the row and are counted as unreadable.
        for bad in [
            "12,50",
            "1,23.4",
            "¥",
            "12.00 dollars",
            "1.2.3,4,5",
            "abc",
            "--",
        ] {
            assert_eq!(read(bad, false), None, "{bad}");
        }
        assert_eq!(read("12,505", true), None);
        assert_eq!(currency_exponent(Some("156")), 2);
    }

    #[test]
    fn pans_are_masked() {
        assert_eq!(mask_pan("4111111111111111"), "411111******1111");
        assert_eq!(mask_pan("6222 0212 3456 7890 123"), "622202*********0123");
        assert!(luhn_valid(b"4111111111111111"));
        assert!(!luhn_valid(b"4111111111111112"));
        let s = scrub_pans("T1,4111111111111111,05,4111 1111 1111 1111,20261109100000");
        assert_eq!(
            s,
            "T1,411111******1111,05,4111 11** **** 1111,20261109100000"
        );
        // 14-digit timestamps and non-Luhn runs are left alone.
        assert_eq!(scrub_pans("20261109100000"), "20261109100000");
        assert_eq!(scrub_pans("4111111111111112"), "4111111111111112");
    }
}
