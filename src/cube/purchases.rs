//! Purchases and lost sales (SPEC "Beyond field 39"): a response code counts attempts, a shop
//! owner counts customers. Attempts on one terminal for the same amount and masked card,
//! each at most one retry window after the one before, are one purchase; it is *recovered*
//! when an attempt in it is approved, *lost* otherwise.
//!
//! # The rule, exactly
//!
//! The *purchase key* of an attempt is (terminal, merchant, amount in minor units, currency,
//! masked card: first six + last four of `pan`, nothing when the log has no card column).
//! Only attempts with an amount above zero take part (refunds, balance enquiries and rows
//! without an amount are not purchases). A key's attempts are put in time order (ties: failures
//! before approvals, so a failure and its approving retry in the same second are one
//! purchase). Then:
//! - every approved attempt ends one purchase (recovered, counted at its own cell);
//! - a failed attempt ends a *lost* purchase iff no attempt with its key follows it within
//!   the window (`0 ≤ t − ts ≤ window`); the purchase is counted, with its amount as lost, at
//!   the failed attempt's cell (its terminal, hour and code: the code the customer gave up on).
//!
//! A failure followed by another failure, then an approval, within the window each, is one
//! recovered purchase; an attempt after an approval starts a new purchase. Looking only at
//! the next attempt of the same key makes the rule independent of other customers served in
//! between on a busy till. Without a card column two customers paying the same amount at the
//! same till within the window are taken for one: README "Beyond field 39" says so.
//!
//! # Why attempts are kept, and what it costs
//!
//! Rows come in any order: files in any order, a file cut into chunks read on several
//! threads, and exports that are not time-ordered within a terminal. Whether a failure is a
//! lost purchase depends on attempts that may come later in the input, from another thread or
//! another file. So each builder keeps its attempts — approvals as 16 bytes (key fingerprint,
//! instant), failures with their cell (48 bytes, a few percent of rows) — and the purchases
//! are settled once, when the builders are added up: sorting by (key, instant) puts every key's
//! attempts in time order whatever order they came in. At 10M rows that is about 150 MB for
//! the duration of the ingest (measured in bench/RESULTS.md). A 64-bit key fingerprint can mix
//! two keys only if they also fall within one window: with a thousand attempts per window that
//! is about 1e-16 per failure.
//!
//! `--since/--until`: attempts up to one window after `--until` are kept (without a cell) to
//! see whether a purchase goes on, so the cubes of consecutive windows (daily cubes) add up
//! to the cube of the whole period.

use rayon::slice::ParallelSliceMut;

/// Whether an attempt was approved, and when: the approvals need nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Approval {
    pub key: u64,
    pub ts: i64,
}

/// A failed attempt, with the builder's cell it belongs to (for a lost purchase).
#[derive(Debug, Clone, Copy)]
pub(super) struct Failure {
    pub key: u64,
    pub ts: i64,
    /// The builder's hour of its cell.
    pub hour: i64,
    /// The builder's cell key within the hour (`combo << 16 | code`).
    pub cell: u64,
    pub amount_minor: i64,
    /// False for attempts after `--until`, kept only as possible retries.
    pub in_window: bool,
}

/// The attempts one builder kept.
#[derive(Debug, Default)]
pub(super) struct Attempts {
    /// In blocks of [`BLOCK`]: growing one vector of ten million would copy it over and over.
    pub approvals: Vec<Vec<Approval>>,
    pub failures: Vec<Failure>,
}

/// Approvals per block (16 MiB).
pub(super) const BLOCK: usize = 1 << 20;

impl Attempts {
    pub fn approve(&mut self, a: Approval) {
        match self.approvals.last_mut() {
            Some(b) if b.len() < BLOCK => b.push(a),
            _ => {
                let mut b = Vec::with_capacity(BLOCK);
                b.push(a);
                self.approvals.push(b);
            }
        }
    }
}

/// A failure that ended a lost purchase: its builder (index into the builders added up), its
/// cell and its amount.
pub(super) struct Lost {
    pub builder: usize,
    pub hour: i64,
    pub cell: u64,
    pub amount_minor: i64,
}

/// Settle the purchases of all builders' attempts: the lost ones, with their cells.
pub(super) fn lost_purchases(all: Vec<Attempts>, window: i64) -> Vec<Lost> {
    let mut approvals: Vec<Vec<Approval>> = Vec::new();
    let mut failures: Vec<(usize, Failure)> = Vec::new();
    for (b, a) in all.into_iter().enumerate() {
        approvals.extend(a.approvals);
        failures.extend(a.failures.into_iter().map(|f| (b, f)));
    }
    // Only approvals of a key that also failed can recover anything: most approvals are
    // dropped here (in parallel) before the sort.
    let failed: std::collections::HashSet<u64, super::FastState> = {
        let mut s = std::collections::HashSet::with_hasher(super::fast_state());
        s.extend(failures.iter().map(|(_, f)| f.key));
        s
    };
    // Most approvals belong to purchases that never failed: a bit per key fingerprint (keys
    // are hashes) rules out almost all of them before the exact lookup. About 16 bits per
    // failed key, at most 2^24 bits (2 MB, what stays in the cache).
    let bits = (failed.len() * 16)
        .next_power_of_two()
        .clamp(1 << 12, 1 << 24);
    let shift = 64 - bits.trailing_zeros();
    let mut seen = vec![0u64; bits / 64];
    for k in &failed {
        let b = (k >> shift) as usize;
        seen[b >> 6] |= 1 << (b & 63);
    }
    let maybe = |k: u64| {
        let b = (k >> shift) as usize;
        seen[b >> 6] & (1 << (b & 63)) != 0
    };
    let mut approvals: Vec<Approval> = {
        use rayon::prelude::*;
        approvals
            .into_par_iter()
            .flat_map_iter(|block| {
                block
                    .into_iter()
                    .filter(|a| maybe(a.key) && failed.contains(&a.key))
            })
            .collect()
    };
    approvals.par_sort_unstable();
    // A total order (key, instant, then the cell), so that which of two failures of one key
    // in the same second is the last does not depend on input order or threads.
    failures.par_sort_unstable_by_key(|(b, f)| (f.key, f.ts, f.hour, f.cell, f.amount_minor, *b));
    let mut lost = Vec::new();
    for (i, (b, f)) in failures.iter().enumerate() {
        if !f.in_window {
            continue;
        }
        let followed_by_failure = failures
            .get(i + 1)
            .is_some_and(|(_, g)| g.key == f.key && g.ts - f.ts <= window);
        if followed_by_failure {
            continue;
        }
        // The first approval of the key at or after the failure.
        let at = approvals.partition_point(|a| (a.key, a.ts) < (f.key, f.ts));
        let followed_by_approval = approvals
            .get(at)
            .is_some_and(|a| a.key == f.key && a.ts - f.ts <= window);
        if !followed_by_approval {
            lost.push(Lost {
                builder: *b,
                hour: f.hour,
                cell: f.cell,
                amount_minor: f.amount_minor,
            });
        }
    }
    lost
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(key: u64, ts: i64, cell: u64) -> Failure {
        Failure {
            key,
            ts,
            hour: 0,
            cell,
            amount_minor: 100,
            in_window: true,
        }
    }

    fn lost_cells(approvals: &[(u64, i64)], failures: &[Failure]) -> Vec<u64> {
        let a = Attempts {
            approvals: vec![approvals
                .iter()
                .map(|&(key, ts)| Approval { key, ts })
                .collect()],
            failures: failures.to_vec(),
        };
        let mut cells: Vec<u64> = lost_purchases(vec![a], 600)
            .iter()
            .map(|l| l.cell)
            .collect();
        cells.sort();
        cells
    }

    #[test]
    fn a_decline_retried_and_approved_is_not_lost() {
        assert!(lost_cells(&[(1, 100)], &[fail(1, 40, 7)]).is_empty());
        // In the same second: failures come first.
        assert!(lost_cells(&[(1, 40)], &[fail(1, 40, 7)]).is_empty());
    }

    #[test]
    fn a_chain_of_failures_is_lost_once_at_its_last_attempt() {
        let f = [fail(1, 0, 1), fail(1, 300, 2), fail(1, 800, 3)];
        assert_eq!(lost_cells(&[], &f), vec![3]);
    }

    #[test]
    fn the_window_is_inclusive_and_measured_from_the_previous_attempt() {
        assert!(lost_cells(&[(1, 600)], &[fail(1, 0, 1)]).is_empty());
        assert_eq!(lost_cells(&[(1, 601)], &[fail(1, 0, 1)]), vec![1]);
    }

    #[test]
    fn an_approval_before_a_failure_does_not_recover_it() {
        assert_eq!(lost_cells(&[(1, 0)], &[fail(1, 10, 4)]), vec![4]);
    }

    #[test]
    fn other_keys_do_not_recover_a_purchase() {
        assert_eq!(lost_cells(&[(2, 10)], &[fail(1, 0, 5)]), vec![5]);
    }

    #[test]
    fn attempts_outside_the_window_only_recover() {
        let mut late = fail(1, 100, 9);
        late.in_window = false;
        // The in-window failure is followed by a (kept, not counted) failure: not lost here;
        // the late one is judged by the run whose window holds it.
        assert!(lost_cells(&[], &[fail(1, 0, 1), late]).is_empty());
    }

    #[test]
    fn input_order_and_builders_do_not_matter() {
        let a = Attempts {
            approvals: vec![vec![Approval { key: 3, ts: 50 }]],
            failures: vec![fail(1, 0, 1), fail(3, 0, 3)],
        };
        let b = Attempts {
            approvals: vec![],
            failures: vec![fail(1, 500, 2)],
        };
        let lost = lost_purchases(vec![b, a], 600);
        assert_eq!(lost.len(), 1);
        assert_eq!((lost[0].builder, lost[0].cell), (0, 2));
    }
}
