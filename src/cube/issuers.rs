//! The issuer table (cube version 3): transactions per local hour and card BIN (the first six
//! digits of the card), and the failing ones per hour, BIN, code and terminal. It answers
//! "did one issuer's cards fail across many terminals at once?" (`analyze/incidents.rs`)
//! without a BIN dimension on every cell: the totals are a few thousand rows per hour, the
//! failures a few percent of the rows.
//!
//! Which codes approve is the catalog's business; the table keeps every code but `00` (and,
//! when the builder has a retry rule, every code the catalog approves) with its terminal, so
//! any profile can still class them at analysis time.

use std::collections::HashMap;

use super::{fast_state, FastState};

/// "Any": a total row's code and terminal.
pub const ANY: u32 = u32::MAX;

/// One row of the table: (hour, bin, code, terminal) and a count. `code` and `terminal` are
/// dictionary ids of the cube (or the builder, while building), [`ANY`] on total rows.
pub type Key = (i64, u32, u32, u32);

/// The first six digits of a card number, masked or not; None without six leading digits.
pub fn bin_of(pan: &str) -> Option<u32> {
    let b = crate::ingest::normalize::trim_fast(pan).as_bytes();
    if b.len() < 10 || !b[..6].iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b[..6].iter().fold(0u32, |v, &d| v * 10 + (d - b'0') as u32))
}

/// A BIN as text, six digits.
pub fn bin_text(bin: u32) -> String {
    format!("{bin:06}")
}

/// What one builder gathers. Rows come roughly in time order, so the current hour's totals
/// and failures sit in small maps (a few hundred BINs, a few thousand failing keys), which stay
/// in the CPU cache, and move to lists when the hour changes.
pub(crate) struct IssuerBuilder {
    hour: i64,
    /// The current hour's totals: a direct-mapped table of (BIN + 1, count) — a fleet's busy
    /// BINs land in their own slot, a two-instruction count per row — and a map for the BINs
    /// whose slot another BIN holds.
    slots: Box<[(u32, u64); SLOTS]>,
    current: HashMap<u32, u64, FastState>,
    /// The current hour's failures by `bin << 40 | code << 24 | terminal`.
    current_failures: HashMap<u64, u64, FastState>,
    pub(crate) rows: Vec<(Key, u64)>,
}

impl Default for IssuerBuilder {
    fn default() -> Self {
        IssuerBuilder {
            hour: i64::MIN,
            slots: Box::new([(0, 0); SLOTS]),
            current: HashMap::with_hasher(fast_state()),
            current_failures: HashMap::with_hasher(fast_state()),
            rows: Vec::new(),
        }
    }
}

/// Builder numbers that fit the packed failure key (a cube holds at most 2^24 terminals and
/// 2^16 codes, [`super::Dim::limit`]).
const TERM_BITS: u32 = 24;
const SLOTS: usize = 512;
const CODE_BITS: u32 = 16;

impl IssuerBuilder {
    fn at_hour(&mut self, hour: i64) {
        if hour != self.hour {
            self.flush();
            self.hour = hour;
        }
    }

    /// One transaction of card `bin` in `hour`.
    #[inline]
    pub(crate) fn count(&mut self, hour: i64, bin: u32) {
        self.at_hour(hour);
        let slot = &mut self.slots[(bin.wrapping_mul(0x9E37_79B1) >> 23) as usize % SLOTS];
        if slot.0 == bin + 1 {
            slot.1 += 1;
        } else if slot.0 == 0 {
            *slot = (bin + 1, 1);
        } else {
            *self.current.entry(bin).or_default() += 1;
        }
    }

    /// `n` failing transactions (code and terminal numbers of the builder).
    #[inline]
    pub(crate) fn fail(&mut self, hour: i64, bin: u32, code: u32, terminal: u32, n: u64) {
        self.at_hour(hour);
        let key =
            (bin as u64) << (CODE_BITS + TERM_BITS) | (code as u64) << TERM_BITS | terminal as u64;
        *self.current_failures.entry(key).or_default() += n;
    }

    /// Move the current hour's maps to the list.
    pub(crate) fn flush(&mut self) {
        let hour = self.hour;
        for slot in self.slots.iter_mut().filter(|s| s.0 != 0) {
            self.rows.push(((hour, slot.0 - 1, ANY, ANY), slot.1));
            *slot = (0, 0);
        }
        self.rows.extend(
            self.current
                .drain()
                .map(|(bin, n)| ((hour, bin, ANY, ANY), n)),
        );
        let mask = |bits: u32| (1u64 << bits) - 1;
        self.rows
            .extend(self.current_failures.drain().map(|(k, n)| {
                let bin = (k >> (CODE_BITS + TERM_BITS)) as u32;
                let code = ((k >> TERM_BITS) & mask(CODE_BITS)) as u32;
                let term = (k & mask(TERM_BITS)) as u32;
                ((hour, bin, code, term), n)
            }));
    }

    /// Totals added from a cube file.
    pub(crate) fn add_total(&mut self, hour: i64, bin: u32, n: u64) {
        self.rows.push(((hour, bin, ANY, ANY), n));
    }
}

/// Sort a table and add up equal keys.
pub(crate) fn sort_and_fold(mut rows: Vec<(Key, u64)>) -> Vec<(Key, u64)> {
    rows.sort_unstable_by_key(|r| r.0);
    let mut out: Vec<(Key, u64)> = Vec::with_capacity(rows.len());
    for (k, n) in rows {
        match out.last_mut() {
            Some(last) if last.0 == k => last.1 += n,
            _ => out.push((k, n)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_from_masked_and_full_card_numbers() {
        assert_eq!(bin_of("622848******1234"), Some(622_848));
        assert_eq!(bin_of("4111111111111111"), Some(411_111));
        assert_eq!(bin_of("012345xxxxxx9999"), Some(12_345));
        assert_eq!(bin_text(12_345), "012345");
        assert_eq!(bin_of("****1234"), None);
        assert_eq!(bin_of(""), None);
    }
}
