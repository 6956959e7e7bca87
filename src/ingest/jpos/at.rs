//! The `at` attribute of a jPOS `<log>` event, in every form jPOS has written it, turned into
//! text [`parse_timestamp`](crate::ingest::normalize::parse_timestamp) reads, plus an instant
//! in milliseconds that the reader uses to compare events of one log with each other.
//!
//! | jPOS | `at` | becomes |
//! |---|---|---|
//! | 1.x `LogEvent` (`Date.toString()` + `.` + `getTime() % 1000`, unpadded) | `Sat Jan 04 19:00:08 CST 2014.515`, `… 2014.5` (5 ms) | `2014-01-04 19:00:08.515`, `….005` |
//! | `SimpleDateFormat("EEE MMM dd HH:mm:ss.SSS zzz yyyy")` | `Thu Oct 08 17:49:39.830 EAT 2020` | `2020-10-08 17:49:39.830` |
//! | either, without milliseconds | `Thu Oct 08 17:49:39 EAT 2020` | `2020-10-08 17:49:39` |
//! | 2.x `LocalDateTime.ofInstant(..)` (naive, 0/3/6/9 fraction digits) | `2020-10-08T17:49:39.830123` | unchanged |
//! | the same when seconds and fraction are zero (`LocalTime.toString()` drops them) | `2020-10-08T17:49` | `2020-10-08T17:49:00` |
//! | ISO 8601 with an offset, 0–9 fraction digits | `2014-01-04T19:00:08.515-03:00`, `…Z`, `…+0300` | unchanged |
//! | `ZonedDateTime.toString()` | `2020-10-08T17:49:39.830+03:00[Africa/Nairobi]` | `2020-10-08T17:49:39.830+03:00` |
//!
//! Zone abbreviations (`zzz`) are dropped and the time is left *naive*, so the pipeline reads
//! it in `--tz`: `CST` is China (+08:00), US Central (-06:00) or Cuba, `IST` India, Ireland or
//! Israel, and Java prints whatever the host's zone calls itself. Only unambiguous ones are
//! kept: `UTC`/`GMT`/`UT`/`Z` become `Z`, and `GMT+08:00` (Java's name for a custom offset,
//! also `GMT+0800`, `GMT+8`, `UTC+8`) becomes `+08:00`. The fraction is kept as written (the
//! text of the timestamp tells two responses a few milliseconds apart from each other).
//! Anything else is returned as-is with no instant; the pipeline rejects it with its reason.

use chrono::{NaiveDate, NaiveTime};

/// A converted `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Stamp {
    /// The timestamp text handed to the pipeline.
    pub text: String,
    /// Milliseconds since the epoch, reading a naive time as if it were UTC: good for
    /// comparing events of one log (which share one clock and zone), not an absolute instant.
    pub ms: Option<i64>,
}

/// Convert an `at` value (see the module doc).
pub(super) fn convert(raw: &str) -> Stamp {
    iso(raw.trim())
        .or_else(|| java_date(raw))
        .unwrap_or_else(|| Stamp {
            text: raw.to_string(),
            ms: None,
        })
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The pieces every form reduces to.
struct Parts<'a> {
    date: NaiveDate,
    /// `HH:MM:SS`, as it will be written.
    hms: String,
    /// Fraction digits as written (0–9 of them), without the point.
    frac: &'a str,
    /// `Z`, `+08:00`, or none for a naive time.
    zone: Option<String>,
}

impl Parts<'_> {
    fn stamp(&self, sep: char) -> Option<Stamp> {
        let time = NaiveTime::parse_from_str(&self.hms, "%H:%M:%S").ok()?;
        let millis: u32 = format!("{:0<3}", &self.frac[..self.frac.len().min(3)])
            .parse()
            .ok()?;
        let offset_secs = match self.zone.as_deref() {
            None | Some("Z") => 0,
            Some(z) => offset_seconds(z)?,
        };
        let ms = self.date.and_time(time).and_utc().timestamp_millis() + i64::from(millis)
            - offset_secs * 1000;
        let dot = if self.frac.is_empty() { "" } else { "." };
        let zone = self.zone.as_deref().unwrap_or("");
        Some(Stamp {
            text: format!(
                "{}{sep}{}{dot}{}{zone}",
                self.date.format("%Y-%m-%d"),
                self.hms,
                self.frac
            ),
            ms: Some(ms),
        })
    }
}

/// `±HH:MM` → seconds east of UTC.
fn offset_seconds(z: &str) -> Option<i64> {
    let b = z.as_bytes();
    if b.len() != 6 || b[3] != b':' {
        return None;
    }
    let h: i64 = z[1..3].parse().ok()?;
    let m: i64 = z[4..6].parse().ok()?;
    if h > 23 || m > 59 {
        return None;
    }
    let secs = h * 3600 + m * 60;
    match b[0] {
        b'+' => Some(secs),
        b'-' => Some(-secs),
        _ => None,
    }
}

fn all_digits(s: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// `YYYY-MM-DD[T ]HH:MM[:SS[.f{1,9}]][Z|±HH:MM|±HHMM|±HH][[Region/City]]`.
fn iso(s: &str) -> Option<Stamp> {
    if !s.is_ascii() {
        return None; // and every slice below is on a character boundary
    }
    // A `ZonedDateTime` appends the zone id after the offset: the offset says it all.
    let s = match s.find('[') {
        Some(i) if s.ends_with(']') => &s[..i],
        Some(_) => return None,
        None => s,
    };
    let b = s.as_bytes();
    if b.len() < 16 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' {
        return None;
    }
    let sep = match b[10] {
        b'T' => 'T',
        b' ' => ' ',
        _ => return None,
    };
    let (y, mo, d) = (&s[0..4], &s[5..7], &s[8..10]);
    if !all_digits(y, 4..=4) || !all_digits(mo, 2..=2) || !all_digits(d, 2..=2) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(y.parse().ok()?, mo.parse().ok()?, d.parse().ok()?)?;
    let (hh, mm) = (&s[11..13], &s[14..16]);
    if !all_digits(hh, 2..=2) || !all_digits(mm, 2..=2) {
        return None;
    }
    let mut rest = &s[16..];
    let ss = match rest.strip_prefix(':') {
        Some(r) if all_digits(r.get(..2)?, 2..=2) => {
            rest = &r[2..];
            &r[..2]
        }
        Some(_) => return None,
        None => "00",
    };
    let mut frac = "";
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if !(1..=9).contains(&n) {
            return None;
        }
        frac = &r[..n];
        rest = &r[n..];
    }
    let zone = match rest {
        "" => None,
        "Z" | "z" => Some("Z".to_string()),
        _ => Some(iso_offset(rest)?),
    };
    Parts {
        date,
        hms: format!("{hh}:{mm}:{ss}"),
        frac,
        zone,
    }
    .stamp(sep)
}

/// `±HH:MM`, `±HHMM` or `±HH` → `±HH:MM`.
fn iso_offset(z: &str) -> Option<String> {
    let sign = z.chars().next().filter(|c| matches!(c, '+' | '-'))?;
    let digits = &z[1..];
    let (h, m) = match digits.len() {
        2 => (digits, "00"),
        4 => (&digits[..2], &digits[2..]),
        5 if digits.as_bytes()[2] == b':' => (&digits[..2], &digits[3..]),
        _ => return None,
    };
    (all_digits(h, 2..=2) && all_digits(m, 2..=2)).then(|| format!("{sign}{h}:{m}"))
}

/// `EEE MMM dd HH:mm:ss[.SSS] [zzz ]yyyy[.S{1,3}]`: `Date.toString()` with jPOS 1.x's
/// unpadded millisecond suffix, or `SimpleDateFormat` with `.SSS` after the seconds.
fn java_date(raw: &str) -> Option<Stamp> {
    let parts: Vec<&str> = raw.split_whitespace().collect();
    let (weekday, month, day, time, zone, year) = match parts[..] {
        [w, m, d, t, z, y] => (w, m, d, t, Some(z), y),
        [w, m, d, t, y] => (w, m, d, t, None, y),
        _ => return None,
    };
    if weekday.len() != 3 || !weekday.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? + 1;
    if !all_digits(day, 1..=2) {
        return None;
    }
    // `.SSS` after the seconds is a decimal fraction, written as it is
    let (hms, time_frac) = match time.split_once('.') {
        Some((hms, f)) if all_digits(f, 1..=9) => (hms, Some(f)),
        Some(_) => return None,
        None => (time, None),
    };
    let t = hms.as_bytes();
    let hms_ok = t.len() == 8
        && t.iter().enumerate().all(|(i, b)| {
            if i == 2 || i == 5 {
                *b == b':'
            } else {
                b.is_ascii_digit()
            }
        });
    if !hms_ok {
        return None;
    }
    // `.S` after the year is jPOS 1.x's `getTime() % 1000`, unpadded: ".5" is 5 ms
    let (year, year_millis) = match year.split_once('.') {
        Some((y, ms)) if all_digits(ms, 1..=3) => (y, Some(format!("{ms:0>3}"))),
        Some(_) => return None,
        None => (year, None),
    };
    if !all_digits(year, 4..=4) {
        return None;
    }
    let frac = match (time_frac, year_millis.as_deref()) {
        (Some(_), Some(_)) => return None,
        (Some(f), None) | (None, Some(f)) => f,
        (None, None) => "",
    };
    let date = NaiveDate::from_ymd_opt(year.parse().ok()?, month as u32, day.parse().ok()?)?;
    let zone = match zone {
        None => None,
        Some(z) if ["UTC", "GMT", "UT", "Z"].contains(&z) => Some("Z".to_string()),
        Some(z) => gmt_offset(z),
    };
    let sep = if zone.is_some() { 'T' } else { ' ' };
    Parts {
        date,
        hms: hms.to_string(),
        frac,
        zone,
    }
    .stamp(sep)
}

/// `GMT+08:00` / `GMT-0330` / `UTC+8` → `+08:00` / `-03:30` / `+08:00`; `None` otherwise.
fn gmt_offset(zone: &str) -> Option<String> {
    let rest = zone
        .strip_prefix("GMT")
        .or_else(|| zone.strip_prefix("UTC"))?;
    let sign = rest.chars().next().filter(|c| matches!(c, '+' | '-'))?;
    let hm: String = rest[1..].chars().filter(|c| *c != ':').collect();
    if !hm.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = match hm.len() {
        1 | 2 => (hm.as_str(), "00"),
        3 => (&hm[..1], &hm[1..]),
        4 => (&hm[..2], &hm[2..]),
        _ => return None,
    };
    Some(format!("{sign}{h:0>2}:{m}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::normalize::parse_timestamp;

    /// (raw, text, instant as RFC 3339 — naive times read as UTC)
    const CASES: &[(&str, &str, Option<&str>)] = &[
        // ISO 8601, jPOS 2.x and later
        (
            "2014-01-04T19:00:08.515-03:00",
            "2014-01-04T19:00:08.515-03:00",
            Some("2014-01-04T22:00:08.515Z"),
        ),
        (
            "2024-03-01T02:15:02.291Z",
            "2024-03-01T02:15:02.291Z",
            Some("2024-03-01T02:15:02.291Z"),
        ),
        (
            "2020-10-08T17:49:39.830",
            "2020-10-08T17:49:39.830",
            Some("2020-10-08T17:49:39.830Z"),
        ),
        (
            "2020-10-08T17:49:39.830123",
            "2020-10-08T17:49:39.830123",
            Some("2020-10-08T17:49:39.830Z"),
        ),
        (
            "2020-10-08T17:49:39.830123456+03:00",
            "2020-10-08T17:49:39.830123456+03:00",
            Some("2020-10-08T14:49:39.830Z"),
        ),
        (
            "2020-10-08T17:49:39.8",
            "2020-10-08T17:49:39.8",
            Some("2020-10-08T17:49:39.800Z"),
        ),
        (
            "2020-10-08T17:49:39",
            "2020-10-08T17:49:39",
            Some("2020-10-08T17:49:39Z"),
        ),
        (
            "2020-10-08T17:49",
            "2020-10-08T17:49:00",
            Some("2020-10-08T17:49:00Z"),
        ),
        (
            "2020-10-08 17:49:39.830+0300",
            "2020-10-08 17:49:39.830+03:00",
            Some("2020-10-08T14:49:39.830Z"),
        ),
        (
            "2020-10-08T17:49:39.830+03",
            "2020-10-08T17:49:39.830+03:00",
            Some("2020-10-08T14:49:39.830Z"),
        ),
        (
            "2020-10-08T17:49:39.830+03:00[Africa/Nairobi]",
            "2020-10-08T17:49:39.830+03:00",
            Some("2020-10-08T14:49:39.830Z"),
        ),
        // jPOS 1.x: Date.toString() + unpadded millis
        (
            "Sat Jan 04 19:00:08 CST 2014.515",
            "2014-01-04 19:00:08.515",
            Some("2014-01-04T19:00:08.515Z"),
        ),
        (
            "Sat Jan 04 19:00:08 CST 2014",
            "2014-01-04 19:00:08",
            Some("2014-01-04T19:00:08Z"),
        ),
        (
            "Sat Jan 4 19:00:08 BRT 2014.7",
            "2014-01-04 19:00:08.007",
            Some("2014-01-04T19:00:08.007Z"),
        ),
        (
            "Sat Jan 04 19:00:08 UTC 2014.515",
            "2014-01-04T19:00:08.515Z",
            Some("2014-01-04T19:00:08.515Z"),
        ),
        (
            "Sat Jan 04 19:00:08 GMT 2014.515",
            "2014-01-04T19:00:08.515Z",
            Some("2014-01-04T19:00:08.515Z"),
        ),
        (
            "Sat Jan 04 19:00:08 GMT-03:00 2014.5",
            "2014-01-04T19:00:08.005-03:00",
            Some("2014-01-04T22:00:08.005Z"),
        ),
        (
            "Fri Dec 31 23:59:59 GMT+0530 2021.999",
            "2021-12-31T23:59:59.999+05:30",
            Some("2021-12-31T18:29:59.999Z"),
        ),
        // EEE MMM dd HH:mm:ss.SSS zzz yyyy
        (
            "Thu Oct 08 17:49:39.830 EAT 2020",
            "2020-10-08 17:49:39.830",
            Some("2020-10-08T17:49:39.830Z"),
        ),
        (
            "Thu Oct 08 17:49:39.008 EAT 2020",
            "2020-10-08 17:49:39.008",
            Some("2020-10-08T17:49:39.008Z"),
        ),
        (
            "Thu Oct 08 17:49:39 EAT 2020",
            "2020-10-08 17:49:39",
            Some("2020-10-08T17:49:39Z"),
        ),
        (
            "Thu Oct 08 14:49:39.830 GMT 2020",
            "2020-10-08T14:49:39.830Z",
            Some("2020-10-08T14:49:39.830Z"),
        ),
        (
            "Thu Oct 08 17:49:39.830 GMT+03:00 2020",
            "2020-10-08T17:49:39.830+03:00",
            Some("2020-10-08T14:49:39.830Z"),
        ),
        (
            "Thu Oct 08 17:49:39.830 2020",
            "2020-10-08 17:49:39.830",
            Some("2020-10-08T17:49:39.830Z"),
        ),
        // not a form jPOS writes: as-is, no instant
        (
            "Thu Oct 08 17:49:39.830 EAT 2020.5",
            "Thu Oct 08 17:49:39.830 EAT 2020.5",
            None,
        ),
        (
            "Sat Foo 04 19:00:08 CST 2014",
            "Sat Foo 04 19:00:08 CST 2014",
            None,
        ),
        (
            "Sat Jan 04 19:00:08 CST 2014.5155",
            "Sat Jan 04 19:00:08 CST 2014.5155",
            None,
        ),
        (
            "Sat Feb 30 19:00:08 CST 2014",
            "Sat Feb 30 19:00:08 CST 2014",
            None,
        ),
        (
            "2020-10-08T17:49:39.8301234567",
            "2020-10-08T17:49:39.8301234567",
            None,
        ),
        ("2020-10-08T25:49:39", "2020-10-08T25:49:39", None),
        (
            "2020-10-08T17:49:39+25:00",
            "2020-10-08T17:49:39+25:00",
            None,
        ),
        ("yesterday", "yesterday", None),
        ("2020-10-08T17:4é:39", "2020-10-08T17:4é:39", None),
        (
            "Thu Oct 08 17:49:39.830 GMT+é 2020",
            "2020-10-08 17:49:39.830",
            Some("2020-10-08T17:49:39.830Z"),
        ),
        ("", "", None),
    ];

    #[test]
    fn every_form_converts_and_the_pipeline_reads_it() {
        let utc: chrono_tz::Tz = "UTC".parse().unwrap();
        for &(raw, text, instant) in CASES {
            let got = convert(raw);
            assert_eq!(got.text, text, "{raw}");
            let want_ms = instant.map(|i| {
                chrono::DateTime::parse_from_rfc3339(i)
                    .unwrap()
                    .timestamp_millis()
            });
            assert_eq!(got.ms, want_ms, "{raw}");
            if let Some(ms) = want_ms {
                // the pipeline reads the text as the same second (naive ones in --tz = UTC)
                assert_eq!(
                    parse_timestamp(&got.text, utc),
                    Ok(ms.div_euclid(1000)),
                    "{raw}"
                );
            }
        }
    }

    #[test]
    fn responses_milliseconds_apart_keep_different_text() {
        let a = convert("Thu Oct 08 17:49:39.830 EAT 2020");
        let b = convert("Thu Oct 08 17:49:39.834 EAT 2020");
        assert_ne!(a.text, b.text);
        assert_eq!(b.ms.unwrap() - a.ms.unwrap(), 4);
    }
}
