//! Silent terminals and volume drops: a terminal that stopped transacting, or trades far
//! below its own usual rate, judged on its own usual trading days.
//!
//! - A terminal's trading weekdays are the weekdays it traded on in at least half of the
//!   weeks it was seen (a weekend-only shop trades on Saturday and Sunday; Monday is not one
//!   of its days, so a Monday without sales says nothing).
//! - `silent`: no transaction on [`MISSED_DAYS`] or more of its trading days in a row, up to the
//!   end of the data, while it used to do at least [`MIN_PER_DAY`] a trading day. Only days on
//!   which the fleet traded count, so the end of the data (or a gap in every log) is not read
//!   as silence.
//! - `volume_drop`: still trading, but on its last [`MISSED_DAYS`] or more trading days, to the
//!   end of the data, at most [`DROP_RATIO`] of its usual daily volume before; the split is the
//!   maximum-likelihood change of a Poisson rate, which must gain [`MIN_DROP_LLR`].

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, TimeZone};
use chrono_tz::Tz;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SilentStatus {
    Silent,
    VolumeDrop,
}

impl SilentStatus {
    pub fn name(self) -> &'static str {
        match self {
            SilentStatus::Silent => "silent",
            SilentStatus::VolumeDrop => "volume_drop",
        }
    }
}

/// One silent or shrunken terminal.
#[derive(Debug, Clone, Serialize)]
pub struct Silent {
    pub terminal_id: String,
    pub merchant_id: String,
    pub status: SilentStatus,
    /// Start of the last local day it traded on.
    pub last_seen: i64,
    /// Start of the first of its trading days that went quiet (or low).
    pub since: i64,
    /// Its usual transactions per trading day before, and since.
    pub expected_per_day: f64,
    pub seen_per_day: f64,
}

/// Trading days in a row that must go quiet.
pub const MISSED_DAYS: usize = 3;
/// Usual transactions per trading day below which a quiet day means little.
pub const MIN_PER_DAY: f64 = 3.0;
/// A volume drop is to at most this share of the usual volume...
pub const DROP_RATIO: f64 = 0.35;
/// ...with a Poisson log-likelihood gain of at least this.
const MIN_DROP_LLR: f64 = 15.0;
/// Days of history a terminal needs (from its first to its last day) before it is judged.
const MIN_HISTORY_DAYS: usize = 7;

/// `volume`: per terminal, (local day start, transactions), days in order.
pub fn find(
    volume: &BTreeMap<String, Vec<(i64, u64)>>,
    merchant_of: &BTreeMap<String, String>,
    tz: Tz,
) -> Vec<Silent> {
    let fleet_days: Vec<i64> = volume
        .values()
        .flat_map(|v| v.iter().filter(|d| d.1 > 0).map(|d| d.0))
        .collect::<BTreeSet<i64>>()
        .into_iter()
        .collect();
    let weekday = |d: i64| {
        tz.timestamp_opt(d, 0)
            .single()
            .map_or(0, |t| t.weekday().num_days_from_monday() as usize)
    };
    let fleet_weekdays: Vec<usize> = fleet_days.iter().map(|&d| weekday(d)).collect();
    let mut out = Vec::new();
    for (term, days) in volume {
        if term == super::NO_TERMINAL {
            continue;
        }
        let counts: BTreeMap<i64, u64> = days.iter().filter(|d| d.1 > 0).copied().collect();
        let (Some(&first), Some(&last)) = (counts.keys().next(), counts.keys().next_back()) else {
            continue;
        };
        let lo = fleet_days.partition_point(|&d| d < first);
        let hi = fleet_days.partition_point(|&d| d <= last);
        if hi - lo < MIN_HISTORY_DAYS || counts.len() < MIN_HISTORY_DAYS / 2 {
            continue;
        }
        // Trading weekdays: traded on in at least half of the weeks it was seen.
        let mut seen = [0u32; 7];
        let mut traded = [0u32; 7];
        for i in lo..hi {
            seen[fleet_weekdays[i]] += 1;
            traded[fleet_weekdays[i]] += counts.contains_key(&fleet_days[i]) as u32;
        }
        let trading: Vec<bool> = (0..7)
            .map(|w| seen[w] >= 1 && traded[w] * 2 >= seen[w] && traded[w] >= 1)
            .collect();
        // Its trading days from its first day to the end of the data, with their counts.
        let series: Vec<(i64, u64)> = (lo..fleet_days.len())
            .filter(|&i| trading[fleet_weekdays[i]])
            .map(|i| {
                (
                    fleet_days[i],
                    counts.get(&fleet_days[i]).copied().unwrap_or(0),
                )
            })
            .collect();
        let merchant_id = merchant_of.get(term).cloned().unwrap_or_default();
        let quiet_tail = series.iter().rev().take_while(|d| d.1 == 0).count();
        let active = &series[..series.len() - quiet_tail];
        let usual = mean(active);
        if quiet_tail >= MISSED_DAYS && usual >= MIN_PER_DAY {
            out.push(Silent {
                terminal_id: term.clone(),
                merchant_id,
                status: SilentStatus::Silent,
                last_seen: last,
                since: series[series.len() - quiet_tail].0,
                expected_per_day: usual,
                seen_per_day: 0.0,
            });
            continue;
        }
        if let Some((split, before, after)) = drop_point(&series) {
            out.push(Silent {
                terminal_id: term.clone(),
                merchant_id,
                status: SilentStatus::VolumeDrop,
                last_seen: last,
                since: series[split].0,
                expected_per_day: before,
                seen_per_day: after,
            });
        }
    }
    out.sort_by(|a, b| {
        (a.status as u8)
            .cmp(&(b.status as u8))
            .then(a.since.cmp(&b.since))
            .then(a.terminal_id.cmp(&b.terminal_id))
    });
    out
}

fn mean(days: &[(i64, u64)]) -> f64 {
    if days.is_empty() {
        return 0.0;
    }
    days.iter().map(|d| d.1 as f64).sum::<f64>() / days.len() as f64
}

/// The split of a trading-day series into a usual level and a low tail running to the end:
/// (first low day's index, mean before, mean after), if the tail is at most [`DROP_RATIO`] of
/// the level, at least [`MISSED_DAYS`] long and the Poisson likelihood clearly prefers it.
fn drop_point(series: &[(i64, u64)]) -> Option<(usize, f64, f64)> {
    let n = series.len();
    if n < MIN_HISTORY_DAYS + MISSED_DAYS {
        return None;
    }
    let ll = |s: &[(i64, u64)]| {
        let m = mean(s);
        if m <= 0.0 {
            return 0.0;
        }
        s.iter().map(|d| d.1 as f64 * m.ln()).sum::<f64>() - s.len() as f64 * m
    };
    let whole = ll(series);
    let mut best: Option<(f64, usize, f64, f64)> = None;
    for split in MIN_HISTORY_DAYS..=(n - MISSED_DAYS) {
        let (b, a) = (&series[..split], &series[split..]);
        let (mb, ma) = (mean(b), mean(a));
        if mb < MIN_PER_DAY * 3.0 || ma > mb * DROP_RATIO {
            continue;
        }
        let gain = ll(b) + ll(a) - whole;
        if gain >= MIN_DROP_LLR && best.is_none_or(|x| gain > x.0) {
            best = Some((gain, split, mb, ma));
        }
    }
    best.map(|(_, s, b, a)| (s, b, a))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;
    /// 2026-10-19 00:00 UTC, a Monday.
    const MONDAY: i64 = 1_792_368_000;

    fn fleet_with(term: &str, days: Vec<(i64, u64)>) -> BTreeMap<String, Vec<(i64, u64)>> {
        let mut v = BTreeMap::new();
        // A busy terminal that trades every day keeps the fleet's days.
        v.insert(
            "BUSY".to_string(),
            (0..28).map(|d| (MONDAY + d * DAY, 50)).collect(),
        );
        v.insert(term.to_string(), days);
        v
    }

    #[test]
    fn a_terminal_that_stops_is_silent_and_a_weekend_shop_is_not() {
        let stops: Vec<(i64, u64)> = (0..15).map(|d| (MONDAY + d * DAY, 40)).collect();
        let found = find(&fleet_with("T1", stops), &BTreeMap::new(), Tz::UTC);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].status, SilentStatus::Silent);
        assert_eq!(found[0].last_seen, MONDAY + 14 * DAY);
        assert_eq!(found[0].since, MONDAY + 15 * DAY);
        assert_eq!(found[0].expected_per_day, 40.0);
        // Trades Saturday and Sunday only, to the last weekend: nothing to report.
        let weekend: Vec<(i64, u64)> = (0..28)
            .filter(|d| d % 7 >= 5)
            .map(|d| (MONDAY + d * DAY, 30))
            .collect();
        assert!(find(&fleet_with("W", weekend), &BTreeMap::new(), Tz::UTC).is_empty());
    }

    #[test]
    fn a_fall_to_a_fifth_is_a_volume_drop() {
        let days: Vec<(i64, u64)> = (0..28)
            .map(|d| (MONDAY + d * DAY, if d < 16 { 50 } else { 10 }))
            .collect();
        let found = find(&fleet_with("T2", days), &BTreeMap::new(), Tz::UTC);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].status, SilentStatus::VolumeDrop);
        assert_eq!(found[0].since, MONDAY + 16 * DAY);
        assert_eq!(
            (found[0].expected_per_day, found[0].seen_per_day),
            (50.0, 10.0)
        );
    }
}
