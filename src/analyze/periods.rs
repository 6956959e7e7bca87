//! Cutting time into periods in the report time zone: hours, local days, ISO weeks (Monday
//! start). Local midnights are found through the zone rules, so a 23- or 25-hour DST day is
//! one day.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, SecondsFormat, TimeZone};
use chrono_tz::Tz;
use serde::Serialize;

use super::ClassCounts;
use crate::config::Bucket;

/// One period of the rates-over-time series.
#[derive(Debug, Clone, Serialize)]
pub struct Period {
    /// Start instant (epoch seconds).
    pub start: i64,
    pub counts: ClassCounts,
}

fn local_date(ts: i64, tz: Tz) -> NaiveDate {
    DateTime::from_timestamp(ts, 0)
        .unwrap_or_default()
        .with_timezone(&tz)
        .date_naive()
}

/// The instant a local date starts (the first instant of it, if midnight is skipped by DST).
pub fn date_start(d: NaiveDate, tz: Tz) -> i64 {
    let mut t = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    for _ in 0..4 {
        if let Some(x) = tz.from_local_datetime(&t).earliest() {
            return x.timestamp();
        }
        t += Duration::hours(1);
    }
    t.and_utc().timestamp()
}

/// Start of the local day containing `ts`.
pub fn day_start(ts: i64, tz: Tz) -> i64 {
    date_start(local_date(ts, tz), tz)
}

/// Start of the ISO week (Monday) containing `ts`.
pub fn week_start(ts: i64, tz: Tz) -> i64 {
    let d = local_date(ts, tz);
    date_start(
        d - Duration::days(d.weekday().num_days_from_monday() as i64),
        tz,
    )
}

/// Start of the period of `bucket` containing `ts`.
pub fn period_start(ts: i64, bucket: Bucket, tz: Tz) -> i64 {
    match bucket {
        Bucket::Hour => ts,
        Bucket::Day => day_start(ts, tz),
        Bucket::Week => week_start(ts, tz),
    }
}

/// Start of the period after the one starting at `start`.
pub fn next_period(start: i64, bucket: Bucket, tz: Tz) -> i64 {
    match bucket {
        Bucket::Hour => start + 3600,
        Bucket::Day => date_start(local_date(start, tz) + Duration::days(1), tz),
        Bucket::Week => date_start(local_date(start, tz) + Duration::days(7), tz),
    }
}

/// RFC 3339 in the report time zone, e.g. `2026-11-09T00:00:00+08:00`.
pub fn rfc3339(ts: i64, tz: Tz) -> String {
    DateTime::from_timestamp(ts, 0)
        .unwrap_or_default()
        .with_timezone(&tz)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// A short local label: `2026-11-09` for days and weeks, `2026-11-09 14:00` for hours.
pub fn label(ts: i64, bucket: Bucket, tz: Tz) -> String {
    let t = DateTime::from_timestamp(ts, 0)
        .unwrap_or_default()
        .with_timezone(&tz);
    match bucket {
        Bucket::Hour => t.format("%Y-%m-%d %H:%M").to_string(),
        Bucket::Day => t.format("%Y-%m-%d").to_string(),
        Bucket::Week => t.format("%G-W%V").to_string(),
    }
}

/// Hourly counts into periods, every period from the first to the last present (zero-filled).
pub fn bucketize(hourly: &BTreeMap<i64, ClassCounts>, bucket: Bucket, tz: Tz) -> Vec<Period> {
    let (Some(first), Some(last)) = (hourly.keys().next(), hourly.keys().next_back()) else {
        return Vec::new();
    };
    let mut periods: BTreeMap<i64, ClassCounts> = BTreeMap::new();
    let mut s = period_start(*first, bucket, tz);
    let end = period_start(*last, bucket, tz);
    while s <= end {
        periods.insert(s, ClassCounts::default());
        s = next_period(s, bucket, tz);
    }
    for (h, c) in hourly {
        let p = periods.entry(period_start(*h, bucket, tz)).or_default();
        p.transactions += c.transactions;
        for (a, b) in p.by_class.iter_mut().zip(c.by_class) {
            *a += b;
        }
    }
    periods
        .into_iter()
        .map(|(start, counts)| Period { start, counts })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Class;

    fn ts(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp()
    }

    #[test]
    fn days_and_weeks_in_zone() {
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        let t = ts("2026-11-11T20:30:00Z"); // Thursday 04:30 local on the 12th
        assert_eq!(rfc3339(day_start(t, tz), tz), "2026-11-12T00:00:00+08:00");
        assert_eq!(rfc3339(week_start(t, tz), tz), "2026-11-09T00:00:00+08:00");
        assert_eq!(label(week_start(t, tz), Bucket::Week, tz), "2026-W46");
    }

    #[test]
    fn dst_day_is_one_period() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let start = day_start(ts("2026-10-25T12:00:00Z"), tz);
        let next = next_period(start, Bucket::Day, tz);
        assert_eq!(next - start, 25 * 3600);
    }

    #[test]
    fn zero_fill_between_first_and_last() {
        let tz: Tz = "UTC".parse().unwrap();
        let mut hourly = BTreeMap::new();
        let mut c = ClassCounts::default();
        c.add(Class::Approved, 3);
        hourly.insert(ts("2026-11-09T05:00:00Z"), c);
        hourly.insert(ts("2026-11-12T05:00:00Z"), c);
        let p = bucketize(&hourly, Bucket::Day, tz);
        assert_eq!(p.len(), 4);
        assert_eq!(p[1].counts.transactions, 0);
        assert_eq!(p[3].counts.transactions, 3);
    }
}
