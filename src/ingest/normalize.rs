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
    let s = raw.trim();
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
            _ => Err(format!("unparseable timestamp {s:?}")),
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
    if NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() {
        return Err(format!("timestamp {s:?} has a date but no time"));
    }
    Err(format!("unparseable timestamp {s:?}"))
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

/// A response code as text. One-digit numeric codes (a spreadsheet dropped the leading zero)
/// become two digits; the bool says so, so the run can count it. Letters are upper-cased
/// (`a0` is CUP's `A0`).
pub fn normalize_code(raw: &str) -> Result<(String, bool), String> {
    normalize_code_ref(raw).map(|(c, padded)| (c.into_owned(), padded))
}

/// [`normalize_code`] without an allocation when the code is already clean (the hot path).
pub fn normalize_code_ref(raw: &str) -> Result<(std::borrow::Cow<'_, str>, bool), String> {
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
    if s.len() > 8 || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!("invalid response code {:?}", excerpt_of(s, 20)));
    }
    if s.len() == 1 && s.as_bytes()[0].is_ascii_digit() {
        return Ok((Cow::Owned(format!("0{s}")), true));
    }
    if s.bytes().any(|b| b.is_ascii_lowercase()) {
        return Ok((Cow::Owned(s.to_ascii_uppercase()), false));
    }
    Ok((Cow::Borrowed(s), false))
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
pub fn parse_amount(raw: &str, minor: bool, exponent: u32) -> Option<i64> {
    let s = raw.trim();
    // Thousands separators are dropped; the usual amount has none and is read in place.
    if s.contains(',') {
        return parse_plain_amount(&s.replace(',', ""), minor, exponent);
    }
    parse_plain_amount(s, minor, exponent)
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

/// A char-boundary-safe prefix of `s`, with an ellipsis when cut.
pub fn excerpt_of(s: &str, max_chars: usize) -> String {
    let mut out: String = s.chars().take(max_chars).collect();
    if s.chars().count() > max_chars {
        out.push('…');
    }
    out
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

    #[test]
    fn amounts_in_minor_units() {
        assert_eq!(parse_amount("12.50", false, 2), Some(1250));
        assert_eq!(parse_amount("12.5", false, 2), Some(1250));
        assert_eq!(parse_amount("1,234", false, 2), Some(123400));
        assert_eq!(parse_amount("-3.00", false, 2), Some(-300));
        assert_eq!(parse_amount("500", false, 0), Some(500));
        assert_eq!(parse_amount("000000001250", true, 2), Some(1250));
        assert_eq!(parse_amount("12.50", true, 2), Some(1250));
        assert_eq!(parse_amount("12.505", false, 2), None);
        assert_eq!(parse_amount("abc", false, 2), None);
        assert_eq!(currency_exponent(Some("jpy")), 0);
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
