//! Response times as a mergeable sketch: a fixed log-scale histogram.
//!
//! Quantiles cannot be added up, counts per bucket can: a histogram with the same fixed
//! buckets everywhere merges by adding, across threads, files and daily cubes, and gives
//! p50/p95 to within one bucket. Buckets are a factor √2 apart from 50 ms to 102 s (about
//! ±19% around a bucket's middle), which tells a 600 ms terminal from a 5 s one and costs
//! 24 counters.
//!
//! The cube keeps two histograms tables (docs/cube.md): per terminal (and merchant) per local
//! day, which the per-terminal figures and the slow-terminal list add up, and per hour for
//! the fleet, for latency over time. Per terminal per hour would cost as much as the rows on
//! a big fleet (a terminal's hour holds a few transactions), per day costs a hundredth.

/// Number of buckets.
pub const BUCKETS: usize = 24;

/// Lower edge of bucket 1 in milliseconds; bucket 0 holds everything below.
const FIRST_EDGE_MS: f64 = 50.0;

/// A response-time histogram.
pub type Hist = [u64; BUCKETS];

/// The bucket of a response time in milliseconds.
pub fn bucket(ms: f64) -> usize {
    if ms.is_nan() || ms < FIRST_EDGE_MS {
        return 0;
    }
    // Edge k (k ≥ 1) is 50·√2^(k−1), so k = 1 + ⌊log2((ms/50)²)⌋: the position of the top
    // bit of ⌊ms²/2500⌋ (the floor does not change the top bit). No logarithm per row.
    let v = (ms * ms / (FIRST_EDGE_MS * FIRST_EDGE_MS)).min(u64::MAX as f64) as u64;
    let k = 1 + (63 - v.max(1).leading_zeros()) as usize;
    k.min(BUCKETS - 1)
}

/// The lower edge of bucket `k` in milliseconds (0 for the first).
pub fn lower_edge(k: usize) -> f64 {
    if k == 0 {
        0.0
    } else {
        FIRST_EDGE_MS * 2f64.powf((k as f64 - 1.0) / 2.0)
    }
}

/// Transactions with a response time in the histogram.
pub fn count(h: &Hist) -> u64 {
    h.iter().sum()
}

/// The `q` quantile (0..1) in milliseconds, interpolated on a log scale within its bucket;
/// None for an empty histogram. Within one bucket of the true value by construction.
pub fn quantile(h: &Hist, q: f64) -> Option<f64> {
    let n = count(h);
    if n == 0 {
        return None;
    }
    // The rank of the quantile, 1-based (nearest rank).
    let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
    let mut seen = 0u64;
    for (k, &c) in h.iter().enumerate() {
        if c == 0 {
            continue;
        }
        if seen + c >= rank {
            let lo = lower_edge(k).max(1.0);
            let hi = if k + 1 < BUCKETS {
                lower_edge(k + 1)
            } else {
                lo * 2f64.sqrt()
            };
            // Where in the bucket the rank falls, spread evenly on a log scale.
            let frac = (rank - seen) as f64 / c as f64;
            let v = lo * (hi / lo).powf(frac);
            return Some(v.round());
        }
        seen += c;
    }
    None
}

/// Add `other` into `into`.
pub fn add(into: &mut Hist, other: &Hist) {
    for (a, b) in into.iter_mut().zip(other) {
        *a += b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_a_factor_root_two_apart() {
        assert_eq!(bucket(0.0), 0);
        assert_eq!(bucket(49.9), 0);
        assert_eq!(bucket(50.0), 1);
        assert_eq!(bucket(70.0), 1);
        assert_eq!(bucket(71.0), 2);
        assert_eq!(bucket(100.0), 3);
        assert_eq!(bucket(1e9), BUCKETS - 1);
        for k in 1..BUCKETS {
            assert_eq!(bucket(lower_edge(k) * 1.0001), k, "{k}");
        }
    }

    #[test]
    fn quantiles_are_within_one_bucket_of_the_truth() {
        // 1..=1000 ms uniform: p50 = 500, p95 = 950.
        let mut h = [0u64; BUCKETS];
        for ms in 1..=1000 {
            h[bucket(ms as f64)] += 1;
        }
        let p50 = quantile(&h, 0.5).unwrap();
        let p95 = quantile(&h, 0.95).unwrap();
        assert!((500.0 / 1.42..=500.0 * 1.42).contains(&p50), "{p50}");
        assert!((950.0 / 1.42..=950.0 * 1.42).contains(&p95), "{p95}");
        assert_eq!(quantile(&[0; BUCKETS], 0.5), None);
    }

    #[test]
    fn merged_histograms_give_the_quantiles_of_the_whole() {
        let (mut a, mut b, mut whole) = ([0u64; BUCKETS], [0u64; BUCKETS], [0u64; BUCKETS]);
        for ms in 0..500 {
            let v = (ms * 37 % 4000) as f64;
            let k = bucket(v);
            if ms % 3 == 0 {
                a[k] += 1
            } else {
                b[k] += 1
            }
            whole[k] += 1;
        }
        add(&mut a, &b);
        assert_eq!(a, whole);
        assert_eq!(quantile(&a, 0.95), quantile(&whole, 0.95));
    }
}
