//! Statistical primitives for the analysis layer.
//!
//! Everything here is plain `f64` arithmetic on the standard library, so the
//! numbers poslens prints do not depend on a numerics crate's version. The
//! questions the analysis asks are of the form "is this terminal's failure
//! count surprising?", which need *tail* probabilities that are often far
//! below 1e-10. Every routine is therefore written so that small results are
//! computed directly, never as `1 - (something close to 1)`, which would lose
//! all significant digits (in `f64`, `1 - (1 - 1e-20)` is exactly 0).
//!
//! The unit tests compare against SciPy / statsmodels reference values.

use std::f64::consts::FRAC_1_SQRT_2;

/// Two-sided 95 % critical value of the standard normal, Φ⁻¹(0.975).
///
/// Used as the `z` of [`wilson_interval`] for the 95 % confidence intervals
/// shown next to every failure rate.
pub const Z95: f64 = 1.959963984540054;

/// Factor that turns a median absolute deviation into a consistent estimate
/// of the standard deviation for normally distributed data (1 / Φ⁻¹(3/4)).
const MAD_TO_SIGMA: f64 = 1.4826;

/// ln √(2π).
const LN_SQRT_2PI: f64 = 0.9189385332046727;

/// 1 / √π.
const FRAC_1_SQRT_PI: f64 = 0.5641895835477563;

// ---------------------------------------------------------------------------
// Gamma and beta functions
// ---------------------------------------------------------------------------

/// Lanczos coefficients for g = 607/128 with 15 terms (P. Godfrey's set, as
/// used by Numerical Recipes 3rd ed. `gammln`). Relative error of the
/// approximation is below 1e-15 for all x > 0.
const LANCZOS: [f64; 15] = [
    0.9999999999999971,
    57.15623566586292,
    -59.59796035547549,
    14.136097974741746,
    -0.4919138160976202,
    3.399464998481189e-05,
    4.652362892704858e-05,
    -9.837447530487956e-05,
    0.0001580887032249125,
    -0.00021026444172410488,
    0.00021743961811521265,
    -0.0001643181065367639,
    8.441822398385275e-05,
    -2.6190838401581408e-05,
    3.6899182659531625e-06,
];

/// g + 1/2 for the Lanczos set above.
const LANCZOS_G_PLUS_HALF: f64 = 5.2421875;

/// Natural logarithm of the gamma function, ln Γ(x), for x > 0.
///
/// Used to build the log of the beta function that normalises the
/// incomplete beta integral (and hence every binomial tail probability).
/// Working in logs is what lets tails like 1e-300 be represented at all:
/// Γ(3001) alone overflows `f64`.
///
/// Lanczos approximation; relative error about 1e-15 away from the roots at
/// x = 1 and x = 2 (which are returned as exactly 0). Returns `+inf` for
/// x = 0 or x = +inf and NaN for negative or NaN input (the reflection
/// formula is not needed by poslens).
pub fn ln_gamma(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 || x.is_infinite() {
        return f64::INFINITY;
    }
    if x == 1.0 || x == 2.0 {
        return 0.0;
    }
    let t = x + LANCZOS_G_PLUS_HALF;
    let mut series = LANCZOS[0];
    let mut denom = x;
    for c in &LANCZOS[1..] {
        denom += 1.0;
        series += c / denom;
    }
    // ln(series) - ln(x) rather than ln(series / x): for sub-normal x the
    // quotient would overflow even though the logarithm is a modest number.
    (x + 0.5) * t.ln() - t + LN_SQRT_2PI + series.ln() - x.ln()
}

/// Stirling-series remainder ln Γ(x) − [(x − ½) ln x − x + ln √(2π)], x ≥ 10.
///
/// Eight terms of the asymptotic series; at x = 10 the first omitted term is
/// below 2e-18, so this is accurate to the last bit of `f64`.
fn ln_gamma_correction(x: f64) -> f64 {
    // Coefficients B_2k / (2k (2k - 1)), k = 1..=8.
    const C: [f64; 8] = [
        1.0 / 12.0,
        -1.0 / 360.0,
        1.0 / 1260.0,
        -1.0 / 1680.0,
        1.0 / 1188.0,
        -691.0 / 360_360.0,
        1.0 / 156.0,
        -3617.0 / 122_400.0,
    ];
    let t = 1.0 / (x * x);
    let poly = C.iter().rev().fold(0.0, |acc, &c| acc * t + c);
    poly / x
}

/// ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b) for a, b > 0.
///
/// The naive difference of three `ln_gamma` values cancels catastrophically
/// for large arguments (ln Γ(1e5) ≈ 1e6, so one rounding error there is
/// 1e-10 absolute, i.e. 1e-10 relative in every tail probability). For large
/// arguments the Stirling leading terms are combined analytically instead, the
/// same decomposition R's `lbeta` uses.
impl BetaBinomial {
    /// A fit that the faulty units cannot inflate: the moment fit with each unit's squared
    /// residual winsorized at [`WINSOR`]² times its variance under the current fit, and the
    /// mean pooled over the units within that bound, iterated to a fixed point. A broken
    /// terminal with 30 times its expected faults counts as a 3-sigma terminal, not as proof
    /// that healthy terminals spread widely (which would hide it and every other one).
    pub fn fit_robust(units: &[(u64, u64)]) -> Option<BetaBinomial> {
        BetaBinomial::fit_winsorized(units, WINSOR)
    }

    /// The moment fit with squared residuals capped at `winsor`² times their variance under
    /// the current fit (infinite: the plain moment fit, reached in one step).
    fn fit_winsorized(units: &[(u64, u64)], winsor: f64) -> Option<BetaBinomial> {
        let units: Vec<(f64, f64)> = units
            .iter()
            .filter(|u| u.1 > 0)
            .map(|&(k, n)| (k.min(n) as f64, n as f64))
            .collect();
        let m = units.len() as f64;
        if m < 2.0 {
            return None;
        }
        let n_sum: f64 = units.iter().map(|u| u.1).sum();
        let n2: f64 = units.iter().map(|u| u.1 * u.1).sum();
        let k_sum: f64 = units.iter().map(|u| u.0).sum();
        if k_sum == 0.0 {
            return Some(BetaBinomial {
                mean: 0.5 / n_sum,
                rho: 0.0,
            });
        }
        let mut fit = BetaBinomial {
            mean: k_sum / n_sum,
            rho: 0.0,
        };
        let cap = winsor * winsor;
        for _ in 0..100 {
            let mu = fit.mean;
            let v = mu * (1.0 - mu);
            let scale = |n: f64| 1.0 + (n - 1.0) * fit.rho;
            // Mean over the units within the bound (all of them if none is).
            let (mut k_in, mut n_in) = (0.0, 0.0);
            for &(k, n) in &units {
                let z2 = n * (k / n - mu).powi(2) / v / scale(n);
                if z2 <= cap {
                    k_in += k;
                    n_in += n;
                }
            }
            let mean = if n_in > 0.0 && k_in > 0.0 {
                k_in / n_in
            } else {
                mu
            };
            let v = mean * (1.0 - mean);
            let s: f64 = units
                .iter()
                .map(|&(k, n)| (n * (k / n - mean).powi(2)).min(cap * v * scale(n)))
                .sum();
            let denom = n_sum - n2 / n_sum - (m - 1.0);
            let rho = if denom > 0.0 {
                ((s / v - (m - 1.0)) / denom).clamp(0.0, 0.5)
            } else {
                0.0
            };
            let next = BetaBinomial { mean, rho };
            let done = (next.mean - fit.mean).abs() <= 1e-12 * fit.mean.max(1e-300)
                && (next.rho - fit.rho).abs() <= 1e-9 * fit.rho.max(1e-12);
            fit = next;
            if done {
                break;
            }
        }
        Some(fit)
    }
}

/// Residuals beyond this many standard deviations are winsorized in [`BetaBinomial::fit_robust`].
pub const WINSOR: f64 = 3.0;

fn ln_beta(a: f64, b: f64) -> f64 {
    let p = a.min(b);
    let q = a.max(b);
    if p >= 10.0 {
        let corr = ln_gamma_correction(p) + ln_gamma_correction(q) - ln_gamma_correction(p + q);
        -0.5 * q.ln()
            + LN_SQRT_2PI
            + corr
            + (p - 0.5) * (p / (p + q)).ln()
            + q * (-p / (p + q)).ln_1p()
    } else if q >= 10.0 {
        let corr = ln_gamma_correction(q) - ln_gamma_correction(p + q);
        ln_gamma(p) + corr + p - p * (p + q).ln() + (q - 0.5) * (-p / (p + q)).ln_1p()
    } else {
        ln_gamma(p) + ln_gamma(q) - ln_gamma(p + q)
    }
}

/// Continued fraction for the incomplete beta function (Numerical Recipes
/// `betacf`), evaluated with the modified Lentz method.
///
/// Converges quickly for x < (a + 1) / (a + b + 2); the caller guarantees
/// that by swapping (a, b, x) ↔ (b, a, 1 − x) otherwise.
fn beta_continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    // Guard against division by zero in Lentz's recurrences.
    const TINY: f64 = 1e-300;
    // Stop when a step changes the value by less than ~4 ulp.
    const EPS: f64 = 1e-15;
    // The number of terms needed grows like sqrt(max(a, b)); the bound only
    // exists so that pathological input cannot loop forever.
    let max_iter = 300 + (20.0 * a.max(b).sqrt()) as u64;

    let qab = a + b;
    let qap = a + 1.0;
    let qam = a - 1.0;
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=max_iter {
        let m = m as f64;
        let m2 = 2.0 * m;
        // Even step of the recurrence.
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        // Odd step.
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() <= EPS || !h.is_finite() {
            break;
        }
    }
    h
}

/// I_x(a, b) for 0 < x < 1 given both x and y = 1 − x.
///
/// Taking y separately matters: for the lower binomial tail the argument is
/// 1 − p, and recomputing 1 − (1 − p) would destroy a small p.
fn inc_beta(a: f64, b: f64, x: f64, y: f64) -> f64 {
    // Use whichever of x, y is small (and therefore exact) for both logs.
    let ln_x = if x > 0.5 { (-y).ln_1p() } else { x.ln() };
    let ln_y = if y > 0.5 { (-x).ln_1p() } else { y.ln() };
    // x^a y^b / B(a, b), kept in logs until the end so that results down to
    // the smallest normal f64 are representable.
    let ln_front = a * ln_x + b * ln_y - ln_beta(a, b);
    if x < (a + 1.0) / (a + b + 2.0) {
        // Here I_x is the smaller tail (below about one half): compute it
        // directly so tiny values keep full relative precision.
        ln_front.exp() * beta_continued_fraction(a, b, x) / a
    } else {
        // Here I_x is the larger tail; 1 − I_y(b, a) loses nothing because
        // I_y(b, a) is the small one.
        1.0 - ln_front.exp() * beta_continued_fraction(b, a, y) / b
    }
}

/// Regularized incomplete beta function I_x(a, b) = B(x; a, b) / B(a, b).
///
/// This is the workhorse behind the binomial tails ([`binom_sf`],
/// [`binom_cdf`]): P[X ≥ k] for X ~ Bin(n, p) equals I_p(k, n − k + 1).
/// Evaluated by the Numerical Recipes continued fraction, switched to the
/// symmetric form I_x(a, b) = 1 − I_{1−x}(b, a) so that the smaller of the
/// two tails is always the one computed directly, which keeps tiny tails
/// (1e-50 and below) accurate to about 1e-12 relative.
///
/// Returns 0 for x ≤ 0, 1 for x ≥ 1, and NaN for NaN input or a, b ≤ 0.
pub fn reg_inc_beta(a: f64, b: f64, x: f64) -> f64 {
    if a.is_nan() || b.is_nan() || x.is_nan() || a <= 0.0 || b <= 0.0 {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    inc_beta(a, b, x, 1.0 - x)
}

// ---------------------------------------------------------------------------
// Binomial tails
// ---------------------------------------------------------------------------

/// Upper binomial tail `P[X ≥ k]` for X ~ Binomial(n, p), *including* k.
///
/// This is the p-value of "k or more failures out of n attempts when the
/// expected failure rate is p", which is how poslens decides a terminal or
/// card range fails more often than the fleet baseline.
///
/// Computed as I_p(k, n − k + 1) rather than `1 - cdf(k - 1)` or a sum of
/// pmf terms: the complement form returns exactly 0 once the tail drops
/// below ~1e-16, and summation costs O(n) log-gamma calls per p-value. The
/// incomplete beta keeps tails like 1e-55 (or 1e-280 at n = 1e5) accurate to
/// about 1e-12 relative or better.
///
/// Edge cases: k = 0 → 1; k > n → 0; p ≤ 0 (and k > 0) → 0; p ≥ 1 → 1;
/// NaN p → NaN.
pub fn binom_sf(k: u64, n: u64, p: f64) -> f64 {
    if p.is_nan() {
        return f64::NAN;
    }
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    if p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    inc_beta(k as f64, (n - k + 1) as f64, p, 1.0 - p)
}

/// Lower binomial tail `P[X ≤ k]` for X ~ Binomial(n, p).
///
/// Used for the opposite question ("suspiciously few failures", e.g. a
/// terminal whose declines stopped after a configuration change).
/// Computed as I_{1−p}(n − k, k + 1) so that a small lower tail is computed
/// directly instead of as `1 - binom_sf(k + 1, n, p)`.
///
/// Edge cases: k ≥ n → 1; p ≤ 0 → 1; p ≥ 1 (and k < n) → 0; NaN p → NaN.
pub fn binom_cdf(k: u64, n: u64, p: f64) -> f64 {
    if p.is_nan() {
        return f64::NAN;
    }
    if k >= n {
        return 1.0;
    }
    if p <= 0.0 {
        return 1.0;
    }
    if p >= 1.0 {
        return 0.0;
    }
    inc_beta((n - k) as f64, (k + 1) as f64, 1.0 - p, p)
}

// ---------------------------------------------------------------------------
// Proportions
// ---------------------------------------------------------------------------

/// Wilson score confidence interval for a binomial proportion k / n,
/// returned as (lower, upper) and clamped to [0, 1].
///
/// Used for the confidence interval shown next to each failure rate. Unlike
/// the textbook normal (Wald) interval it behaves well for the rates poslens
/// sees most often, near 0 % or 100 % and on small n: it never has zero
/// width at k = 0 and never leaves [0, 1].
///
/// `z` is the normal critical value ([`Z95`] for 95 %); its sign is ignored.
/// n = 0 gives the uninformative (0, 1); k > n is treated as k = n.
/// k = 0 and k = n give an exact 0 lower / 1 upper bound.
pub fn wilson_interval(k: u64, n: u64, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let k = k.min(n);
    let nf = n as f64;
    let phat = k as f64 / nf;
    let z = z.abs();
    let z2 = z * z;
    let denom = 1.0 + z2 / nf;
    let center = (phat + z2 / (2.0 * nf)) / denom;
    let half = z / denom * (phat * (1.0 - phat) / nf + z2 / (4.0 * nf * nf)).sqrt();
    // At k = 0 (k = n) the bound is exactly 0 (1) mathematically; setting it
    // avoids a ±1e-18 rounding residue.
    let lower = if k == 0 { 0.0 } else { center - half };
    let upper = if k == n { 1.0 } else { center + half };
    (lower.clamp(0.0, 1.0), upper.clamp(0.0, 1.0))
}

// ---------------------------------------------------------------------------
// Normal distribution
// ---------------------------------------------------------------------------

// W. J. Cody, "Rational Chebyshev approximations for the error function",
// Math. Comp. 23 (1969), as in his CALERF routine: erf on |x| <= 0.46875
// (A/B), exp(x^2) erfc(x) on 0.46875 < x <= 4 (C/D) and on x > 4 (P/Q).
const CODY_A: [f64; 5] = [
    3.1611237438705655,
    113.86415415105016,
    377.485237685302,
    3209.3775891384694,
    0.18577770618460315,
];
const CODY_B: [f64; 4] = [
    23.601290952344122,
    244.02463793444417,
    1282.6165260773723,
    2844.236833439171,
];
const CODY_C: [f64; 9] = [
    0.5641884969886701,
    8.883149794388377,
    66.11919063714163,
    298.6351381974001,
    881.952221241769,
    1712.0476126340707,
    2051.0783778260716,
    1230.3393547979972,
    2.1531153547440383e-08,
];
const CODY_D: [f64; 8] = [
    15.744926110709835,
    117.6939508913125,
    537.1811018620099,
    1621.3895745666903,
    3290.7992357334597,
    4362.619090143247,
    3439.3676741437216,
    1230.3393548037495,
];
const CODY_P: [f64; 6] = [
    0.30532663496123236,
    0.36034489994980445,
    0.12578172611122926,
    0.016083785148742275,
    0.0006587491615298378,
    0.016315387137302097,
];
const CODY_Q: [f64; 5] = [
    2.568520192289822,
    1.8729528499234604,
    0.5279051029514285,
    0.06051834131244132,
    0.0023352049762686918,
];

/// Boundary between Cody's first (erf) and second (erfc) intervals.
const CODY_SMALL: f64 = 0.46875;

/// erf(x) for |x| ≤ 0.46875 (Cody's first interval).
fn erf_small(x: f64) -> f64 {
    let x2 = x * x;
    let mut num = CODY_A[4] * x2;
    let mut den = x2;
    for (a, b) in CODY_A[..3].iter().zip(&CODY_B[..3]) {
        num = (num + a) * x2;
        den = (den + b) * x2;
    }
    x * (num + CODY_A[3]) / (den + CODY_B[3])
}

/// Scaled complementary error function exp(y²)·erfc(y) for y > 0.46875.
///
/// Returning the scaled value lets the caller form exp(−y²) itself without
/// rounding error amplification (see [`normal_sf`]).
fn erfcx_large(y: f64) -> f64 {
    if y <= 4.0 {
        let mut num = CODY_C[8] * y;
        let mut den = y;
        for (c, d) in CODY_C[..7].iter().zip(&CODY_D[..7]) {
            num = (num + c) * y;
            den = (den + d) * y;
        }
        (num + CODY_C[7]) / (den + CODY_D[7])
    } else {
        let t = 1.0 / (y * y);
        let mut num = CODY_P[5] * t;
        let mut den = t;
        for (p, q) in CODY_P[..4].iter().zip(&CODY_Q[..4]) {
            num = (num + p) * t;
            den = (den + q) * t;
        }
        let r = t * (num + CODY_P[4]) / (den + CODY_Q[4]);
        (FRAC_1_SQRT_PI - r) / y
    }
}

/// Upper tail of the standard normal distribution, `P[Z > z]` = ½ erfc(z/√2).
///
/// Used for the one-sided p-value of [`two_proportion_z`] (comparing a
/// terminal's failure rate before and after an event, or against a peer
/// group). Accurate to ~1e-15 relative over the whole range, including the far
/// tail (normal_sf(30) ≈ 4.9e-198), where `1 - cdf` would return 0.
///
/// erfc is W. J. Cody's rational Chebyshev approximation. Two details keep
/// the far tail precise: the Gaussian factor is exp(−z²/2) computed from z
/// itself (not from the rounded z/√2, whose relative error would be
/// amplified by 2·(z/√2)²), and z² is split into an exactly representable
/// part plus a small remainder, as in Cody's code, because exp(−z²/2) is
/// equally sensitive to a rounded z².
pub fn normal_sf(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    let x = z * FRAC_1_SQRT_2;
    if x.abs() <= CODY_SMALL {
        return 0.5 - 0.5 * erf_small(x);
    }
    let az = z.abs();
    // Beyond |z| ≈ 38.6 the tail is below the smallest f64; the cut-off also
    // keeps infinities out of the splitting arithmetic below.
    let tail = if az > 40.0 {
        0.0
    } else {
        // z = hi + lo with hi a multiple of 1/16, so hi² is exact and
        // z² = hi² + (z − hi)(z + hi) carries no rounding error in hi².
        let hi = (az * 16.0).trunc() / 16.0;
        let del = (az - hi) * (az + hi);
        0.5 * (-0.5 * hi * hi).exp() * (-0.5 * del).exp() * erfcx_large(az * FRAC_1_SQRT_2)
    };
    if z < 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// Two-proportion z-test with pooled standard error.
///
/// Returns (z, p) where z = (k2/n2 − k1/n1) / sqrt(p̂(1 − p̂)(1/n1 + 1/n2)),
/// p̂ = (k1 + k2)/(n1 + n2), and p = `P[Z ≥ z]` is the one-sided p-value for
/// "rate 2 is greater than rate 1". Used to compare a failure rate against a
/// baseline period or peer group when both counts are large; for small
/// counts prefer the exact [`binom_sf`].
///
/// Degenerate input (n1 = 0, n2 = 0, or a pooled rate of exactly 0 or 1, so
/// there is no variance) returns (0.0, 1.0): no evidence of a difference.
/// k > n is treated as k = n.
pub fn two_proportion_z(k1: u64, n1: u64, k2: u64, n2: u64) -> (f64, f64) {
    if n1 == 0 || n2 == 0 {
        return (0.0, 1.0);
    }
    let (k1, k2) = (k1.min(n1) as f64, k2.min(n2) as f64);
    let (n1, n2) = (n1 as f64, n2 as f64);
    let pooled = (k1 + k2) / (n1 + n2);
    if pooled <= 0.0 || pooled >= 1.0 {
        return (0.0, 1.0);
    }
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    let z = (k2 / n2 - k1 / n1) / se;
    (z, normal_sf(z))
}

// ---------------------------------------------------------------------------
// Multiple testing
// ---------------------------------------------------------------------------

/// Benjamini–Hochberg adjusted p-values (q-values), in input order.
///
/// poslens tests hundreds of terminals / merchants / response codes at once;
/// flagging every raw p < 0.05 would produce many false alarms. Keeping the
/// items with q ≤ α controls the false discovery rate at α. Identical to
/// statsmodels' `multipletests(p, method="fdr_bh")`: q_(i) = min over j ≥ i
/// of p_(j)·m/j, capped at 1, so the q-values are monotone in p.
///
/// The sort is stable, so ties are handled deterministically (tied p-values
/// always receive identical q-values anyway). NaN entries get a NaN q-value
/// and are not counted in m. An empty slice gives an empty vector.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let mut q = vec![f64::NAN; p.len()];
    let mut order: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    let m = order.len() as f64;
    // `sort_by` is stable: equal p-values keep their input order.
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let mut running_min = f64::INFINITY;
    for (rank0, &i) in order.iter().enumerate().rev() {
        let rank = (rank0 + 1) as f64;
        running_min = running_min.min(p[i] * m / rank);
        q[i] = running_min.min(1.0);
    }
    q
}

// ---------------------------------------------------------------------------
// Robust location / scale
// ---------------------------------------------------------------------------

/// Median of `xs` (mean of the two middle values for even length).
///
/// Used as the robust "typical" failure rate across terminals: one broken
/// terminal at 90 % failures moves the mean a lot but the median not at all.
/// Works on a copy (input need not be sorted and is not modified), O(n).
/// Returns `None` for an empty slice and `Some(NaN)` if any value is NaN
/// (like `numpy.median`).
pub fn median(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    if xs.iter().any(|x| x.is_nan()) {
        return Some(f64::NAN);
    }
    let mut v = xs.to_vec();
    let mid = v.len() / 2;
    let (left, upper, _) = v.select_nth_unstable_by(mid, |a, b| a.total_cmp(b));
    let upper = *upper;
    if xs.len() % 2 == 1 {
        return Some(upper);
    }
    let lower = left.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let sum = lower + upper;
    Some(if sum.is_finite() {
        sum / 2.0
    } else {
        // Avoid overflow for values near f64::MAX.
        lower / 2.0 + upper / 2.0
    })
}

/// Median absolute deviation, median(|xᵢ − median(x)|), unscaled.
///
/// The robust counterpart of the standard deviation, used with [`median`]
/// and [`robust_z`] to score how far one terminal's rate is from its peers
/// without letting the outliers themselves inflate the spread. Multiply by
/// 1.4826 for a normal-consistent σ estimate ([`robust_z`] does this).
/// `None` for an empty slice; `Some(NaN)` if any value is NaN.
pub fn mad(xs: &[f64]) -> Option<f64> {
    let m = median(xs)?;
    let deviations: Vec<f64> = xs.iter().map(|x| (x - m).abs()).collect();
    median(&deviations)
}

/// Robust z-score (x − median) / max(1.4826·mad, floor).
///
/// Scores a terminal's rate against its peer group. 1.4826·MAD estimates σ
/// for normal data; `floor` (> 0) stops the score exploding when most peers
/// have identical rates (MAD = 0, e.g. all at 0 % failures), and expresses
/// the smallest difference worth reporting.
///
/// If the denominator is not positive (mad = 0 and floor ≤ 0), returns 0 when
/// x equals the median and ±∞ otherwise, instead of NaN.
pub fn robust_z(x: f64, median: f64, mad: f64, floor: f64) -> f64 {
    let scale = (MAD_TO_SIGMA * mad).max(floor);
    let diff = x - median;
    if scale > 0.0 {
        diff / scale
    } else if diff == 0.0 {
        0.0
    } else {
        // NaN diff stays NaN via signum.
        diff.signum() * f64::INFINITY
    }
}

// ---------------------------------------------------------------------------
// Beta-binomial: the null model of an overdispersed fleet
// ---------------------------------------------------------------------------

/// A beta-binomial null: each healthy terminal has its own rate, drawn from a Beta(α, β)
/// around the cohort's mean, and its faults are binomial at that rate. `rho` = 1 / (α + β + 1)
/// is the intra-terminal correlation (0: one binomial rate for every terminal).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BetaBinomial {
    pub mean: f64,
    pub rho: f64,
}

/// Below this ρ the fleet is treated as binomial (α + β beyond 10⁸ is a binomial in f64).
const RHO_FLOOR: f64 = 1e-8;

impl BetaBinomial {
    pub fn alpha(&self) -> f64 {
        self.mean * (1.0 - self.rho) / self.rho
    }

    pub fn beta(&self) -> f64 {
        (1.0 - self.mean) * (1.0 - self.rho) / self.rho
    }

    /// The same null after a terminal's own `k` faults in `n` transactions: its rate's Beta
    /// updated by what it showed (conjugate: α + k, β + n − k). With ρ = 0 every terminal has
    /// the cohort's rate and nothing is learnt.
    pub fn updated(&self, k: u64, n: u64) -> BetaBinomial {
        if self.rho < RHO_FLOOR {
            return *self;
        }
        let (a, b) = (self.alpha() + k as f64, self.beta() + (n - k.min(n)) as f64);
        BetaBinomial {
            mean: a / (a + b),
            rho: 1.0 / (a + b + 1.0),
        }
    }

    /// The `q` quantile of the healthy terminals' own rates (the Beta's), by bisection on the
    /// regularized incomplete beta; the mean when ρ = 0 (every terminal has the same rate).
    pub fn rate_quantile(&self, q: f64) -> f64 {
        if self.rho < RHO_FLOOR {
            return self.mean;
        }
        let (a, b) = (self.alpha(), self.beta());
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        for _ in 0..100 {
            let mid = 0.5 * (lo + hi);
            if reg_inc_beta(a, b, mid) < q {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    }

    /// Standard deviation of the healthy terminals' own rates: sqrt(μ(1−μ)ρ).
    pub fn rate_sd(&self) -> f64 {
        (self.mean * (1.0 - self.mean) * self.rho).sqrt()
    }

    /// Upper tail P[X ≥ k] of k faults in n transactions under this null.
    pub fn sf(&self, k: u64, n: u64) -> f64 {
        if self.rho < RHO_FLOOR {
            return binom_sf(k, n, self.mean);
        }
        beta_binom_sf(k, n, self.alpha(), self.beta())
    }

    /// Method-of-moments fit (Kleinman 1973) on (faults, transactions) pairs: the pooled mean,
    /// and ρ from the spread of the rates weighted by volume, Var(kᵢ) = nᵢμ(1−μ)(1 + (nᵢ−1)ρ).
    /// None without at least two units with transactions. Every unit counts in full: see
    /// [`BetaBinomial::fit_robust`] for the fit that faulty units cannot inflate.
    pub fn fit(units: &[(u64, u64)]) -> Option<BetaBinomial> {
        BetaBinomial::fit_winsorized(units, f64::INFINITY)
    }
}

/// log P[X = x] for X ~ BetaBinomial(n, a, b).
fn beta_binom_ln_pmf(x: u64, n: u64, a: f64, b: f64) -> f64 {
    let (xf, nf) = (x as f64, n as f64);
    ln_gamma(nf + 1.0) - ln_gamma(xf + 1.0) - ln_gamma(nf - xf + 1.0) + ln_beta(xf + a, nf - xf + b)
        - ln_beta(a, b)
}

/// Upper tail P[X ≥ k] for X ~ BetaBinomial(n, a, b), a, b > 0.
///
/// Above the mean the tail is summed upward from k (so a p-value of 1e-40 keeps its digits);
/// below it, one minus the lower sum. Successive terms follow from the ratio
/// pmf(x+1)/pmf(x) = (n−x)(x+a) / ((x+1)(n−x−1+b)).
pub fn beta_binom_sf(k: u64, n: u64, a: f64, b: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    if !(a > 0.0 && b > 0.0) {
        return f64::NAN;
    }
    let mean = n as f64 * a / (a + b);
    if k as f64 > mean {
        let mut term = beta_binom_ln_pmf(k, n, a, b).exp();
        let mut sum = term;
        let mut x = k;
        while x < n {
            let xf = x as f64;
            term *= (n - x) as f64 * (xf + a) / ((xf + 1.0) * ((n - x - 1) as f64 + b));
            sum += term;
            x += 1;
            if term <= sum * 1e-17 && xf > mean {
                break;
            }
        }
        sum.min(1.0)
    } else {
        let mut term = beta_binom_ln_pmf(0, n, a, b).exp();
        let mut sum = term;
        for x in 0..k - 1 {
            let xf = x as f64;
            term *= (n - x) as f64 * (xf + a) / ((xf + 1.0) * ((n - x - 1) as f64 + b));
            sum += term;
        }
        (1.0 - sum).clamp(0.0, 1.0)
    }
}

// ---------------------------------------------------------------------------
// Change point
// ---------------------------------------------------------------------------

/// The most likely single change in a binomial rate series, as found by
/// [`change_point`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChangePoint {
    /// First index of the second segment: the change happens between
    /// `index - 1` and `index`.
    pub index: usize,
    /// Pooled rate Σk / Σn over `[0, index)`.
    pub rate_before: f64,
    /// Pooled rate Σk / Σn over `[index, len)`.
    pub rate_after: f64,
    /// Log-likelihood of two separate rates minus that of one common rate
    /// (natural log, ≥ 0). 2 × this is the likelihood-ratio statistic.
    pub log_likelihood_ratio: f64,
}

/// Binomial log-likelihood at the MLE, k·ln(k/n) + (n−k)·ln((n−k)/n), with
/// 0·ln 0 = 0. The binomial coefficients are omitted: they cancel in the
/// likelihood ratio.
pub(crate) fn binomial_max_log_likelihood(k: u128, n: u128) -> f64 {
    let (k, f, n) = (k as f64, (n - k) as f64, n as f64);
    let xlogx = |c: f64| if c > 0.0 { c * (c / n).ln() } else { 0.0 };
    xlogx(k) + xlogx(f)
}

/// Single change point in a binomial rate series, by maximum likelihood.
///
/// `successes[i]` out of `trials[i]` is one time bucket (e.g. failures out
/// of attempts per day). Used to date when a terminal's failure rate
/// changed (a firmware push, a new acquirer route), so the report can say
/// "from day X the rate went from a % to b %".
///
/// For every split i in 1..len (segments [0, i) and [i, len)) where both
/// segments contain at least one trial, computes the log-likelihood of two
/// separate rates minus that of one pooled rate, and returns the split with
/// the largest ratio; ties go to the smallest index. Buckets with zero
/// trials carry no information, so splits on either side of them tie.
///
/// Returns `None` if fewer than two buckets have trials. Slices of
/// different lengths are truncated to the shorter; successes above trials
/// are clamped to trials.
///
/// This always returns the best split, even for a constant rate: the caller
/// decides significance, e.g. `log_likelihood_ratio` above a threshold and
/// `rate_after > rate_before`. (2 × LLR is roughly χ²(1) for a fixed split,
/// but taking the maximum over all splits inflates it, so the threshold
/// should be larger than the χ² quantile.)
pub fn change_point(successes: &[u64], trials: &[u64]) -> Option<ChangePoint> {
    let len = successes.len().min(trials.len());
    let (successes, trials) = (&successes[..len], &trials[..len]);
    if trials.iter().filter(|&&t| t > 0).count() < 2 {
        return None;
    }
    // u128 sums: the totals of many u64 counts cannot overflow.
    let clamped = |i: usize| u128::from(successes[i].min(trials[i]));
    let total_k: u128 = (0..len).map(clamped).sum();
    let total_n: u128 = trials.iter().map(|&t| u128::from(t)).sum();
    let pooled_ll = binomial_max_log_likelihood(total_k, total_n);

    let mut best: Option<ChangePoint> = None;
    let (mut k1, mut n1) = (0u128, 0u128);
    for i in 1..len {
        k1 += clamped(i - 1);
        n1 += u128::from(trials[i - 1]);
        let (k2, n2) = (total_k - k1, total_n - n1);
        if n1 == 0 || n2 == 0 {
            continue;
        }
        // Mathematically ≥ 0; clamp away a −1e-13 rounding residue.
        let llr = (binomial_max_log_likelihood(k1, n1) + binomial_max_log_likelihood(k2, n2)
            - pooled_ll)
            .max(0.0);
        // Strictly greater: on ties the earliest split wins.
        let better = match best {
            None => true,
            Some(b) => llr > b.log_likelihood_ratio,
        };
        if better {
            best = Some(ChangePoint {
                index: i,
                rate_before: k1 as f64 / n1 as f64,
                rate_after: k2 as f64 / n2 as f64,
                log_likelihood_ratio: llr,
            });
        }
    }
    best
}

#[cfg(test)]
mod tests {
    //! Reference values were computed with SciPy 1.17.1 and statsmodels
    //! 0.15.0 (Python, outside this repository) and pasted as literals; the
    //! comment above each table names the exact function that produced it.

    use super::*;

    /// |actual − expected| ≤ rel·|expected|; an expected 0 must match exactly.
    fn assert_rel(actual: f64, expected: f64, rel: f64, what: &str) {
        let err = (actual - expected).abs();
        assert!(
            err <= rel * expected.abs(),
            "{what}: got {actual:e}, expected {expected:e} (rel err {:e}, tol {rel:e})",
            err / expected.abs()
        );
    }

    #[test]
    fn ln_gamma_matches_scipy() {
        // scipy.special.gammaln(x)
        let cases = [
            (1e-10, 23.025850929882733),
            (0.001, 6.907178885383853),
            (0.1, 2.252712651734206),
            (0.5, 0.5723649429247),
            (1.5, -0.12078223763524526),
            (2.5, 0.2846828704729192),
            (3.0, std::f64::consts::LN_2), // scipy: 0.6931471805599453
            (7.25, 7.0521854507385395),
            (10.0, 12.801827480081469),
            (33.3, 82.60372358165493),
            (100.5, 361.43554046777757),
            (1234.5, 7550.550901077894),
            (3001.0, 21024.024853045546),
            (100000.0, 1051287.7089736569),
            (10000000.0, 151180949.36947393),
        ];
        for (x, expected) in cases {
            assert_rel(ln_gamma(x), expected, 1e-13, &format!("ln_gamma({x})"));
        }
        // scipy.special.gammaln(1.0) == gammaln(2.0) == 0.0
        assert_eq!(ln_gamma(1.0), 0.0);
        assert_eq!(ln_gamma(2.0), 0.0);
        // Near the roots only an absolute bound is meaningful.
        // scipy.special.gammaln(1.0 + 1e-9), gammaln(2.0 - 1e-9)
        assert!((ln_gamma(1.0 + 1e-9) - -5.772157128381042e-10).abs() < 1e-15);
        assert!((ln_gamma(2.0 - 1e-9) - -4.227842520521108e-10).abs() < 1e-15);
    }

    #[test]
    fn ln_gamma_edges() {
        assert_eq!(ln_gamma(0.0), f64::INFINITY);
        assert_eq!(ln_gamma(f64::INFINITY), f64::INFINITY);
        assert!(ln_gamma(-1.5).is_nan());
        assert!(ln_gamma(f64::NAN).is_nan());
        // Sub-normal input must not overflow to +inf: ln Γ(x) ≈ −ln x.
        // Python math.lgamma(5e-324) (scipy.special.gammaln overflows to inf here).
        assert_rel(
            ln_gamma(5e-324),
            744.4400719213812,
            1e-15,
            "ln_gamma(5e-324)",
        );
    }

    #[test]
    fn ln_beta_matches_scipy() {
        // mpmath.log(mpmath.beta(a, b)) with mp.dps = 40, rounded to f64. Not
        // scipy.special.betaln: it is itself off by up to 6.5e-13 relative on
        // these arguments (e.g. -22.741355546953855 for (2.5, 1e4)).
        let cases = [
            (0.5, 0.5, 1.1447298858494002),
            (3.0, 4.0, -4.0943445622221),
            (60.0, 2941.0, -295.2542854978378),
            (10.0, 10.0, -13.736229227036555),
            (2.5, 10000.0, -22.74135554696871),
            (10000.0, 100000.0, -33513.60927656998),
            (1.0, 1000000.0, -13.815510557964274),
        ];
        for (a, b, expected) in cases {
            assert_rel(
                ln_beta(a, b),
                expected,
                1e-13,
                &format!("ln_beta({a}, {b})"),
            );
            assert_rel(
                ln_beta(b, a),
                expected,
                1e-13,
                &format!("ln_beta({b}, {a})"),
            );
        }
    }

    #[test]
    fn reg_inc_beta_matches_scipy() {
        // scipy.special.betainc(a, b, x)
        let cases = [
            (1.0, 1.0, 0.3, 0.3),
            (0.5, 0.5, 0.2, 0.2951672353008665),
            (2.0, 3.0, 0.4, 0.5247999999999999),
            (5.0, 2.0, 0.999, 0.999985039955024),
            (60.0, 2941.0, 0.001, 1.5600825908151249e-55),
            (10.0, 10.0, 0.5, 0.5),
            (100.0, 200.0, 0.4, 0.9916844649260862),
            (3.0, 2998.0, 0.001, 0.5769219989411692),
            (2998.0, 3.0, 0.999, 0.42307800105883125),
            (0.5, 30.0, 1e-06, 0.006154630885673585),
            (1500.0, 1500.0, 0.49, 0.13665683713239482),
            (10000.0, 100000.0, 0.1, 1.0),
        ];
        for (a, b, x, expected) in cases {
            assert_rel(
                reg_inc_beta(a, b, x),
                expected,
                1e-9,
                &format!("reg_inc_beta({a}, {b}, {x})"),
            );
        }
    }

    #[test]
    fn reg_inc_beta_edges() {
        assert_eq!(reg_inc_beta(2.0, 3.0, 0.0), 0.0);
        assert_eq!(reg_inc_beta(2.0, 3.0, -0.5), 0.0);
        assert_eq!(reg_inc_beta(2.0, 3.0, 1.0), 1.0);
        assert_eq!(reg_inc_beta(2.0, 3.0, 7.0), 1.0);
        assert!(reg_inc_beta(0.0, 3.0, 0.5).is_nan());
        assert!(reg_inc_beta(2.0, -1.0, 0.5).is_nan());
        assert!(reg_inc_beta(2.0, 3.0, f64::NAN).is_nan());
    }

    #[test]
    fn binom_sf_matches_scipy() {
        // scipy.stats.binom.sf(k - 1, n, p)  (= P[X >= k])
        let cases: [(u64, u64, f64, f64); 18] = [
            (0, 10, 0.3, 1.0),
            (1, 10, 0.3, 0.9717524751),
            (3, 10, 0.3, 0.6172172136000003),
            (10, 10, 0.3, 5.9048999999999975e-06),
            (11, 10, 0.3, 0.0),
            (60, 3000, 0.001, 1.5600825908151249e-55),
            (10, 3000, 0.001, 0.0010944028230172307),
            (5, 100, 0.02, 0.05083044536950036),
            (48, 3000, 0.01, 0.0014078326579602032),
            (3000, 3000, 0.999, 0.049712393998036175),
            (1, 1, 0.5, 0.5),
            (200, 1000, 0.1, 2.9280548038287287e-21),
            (500, 1000, 0.5, 0.5126125090891802),
            (1, 100000, 1e-09, 9.999500021665751e-05),
            (900, 1000, 0.5, 6.701717790006182e-162),
            (40, 100000, 1e-06, 1.1031001761000249e-88),
            (30000, 100000, 0.25, 1.2049337319919745e-280),
            (600, 1000000, 0.0004, 7.587276529926519e-21),
        ];
        for (k, n, p, expected) in cases {
            // 1e-9 even for the extreme tails: the incomplete-beta route keeps
            // them to ~1e-12 relative (checked against mpmath at 60 digits).
            assert_rel(
                binom_sf(k, n, p),
                expected,
                1e-9,
                &format!("binom_sf({k}, {n}, {p})"),
            );
        }
    }

    #[test]
    fn binom_sf_edges() {
        assert_eq!(binom_sf(0, 0, 0.5), 1.0);
        assert_eq!(binom_sf(1, 0, 0.5), 0.0);
        assert_eq!(binom_sf(0, 10, 0.0), 1.0);
        assert_eq!(binom_sf(1, 10, 0.0), 0.0);
        assert_eq!(binom_sf(10, 10, 1.0), 1.0);
        assert_eq!(binom_sf(11, 10, 1.0), 0.0);
        assert_eq!(binom_sf(5, 10, -0.1), 0.0);
        assert!(binom_sf(5, 10, f64::NAN).is_nan());
        // Far beyond any tail representable in f64: underflows to 0, no NaN.
        assert_eq!(binom_sf(3000, 3000, 1e-6), 0.0);
    }

    #[test]
    fn binom_cdf_matches_scipy() {
        // scipy.stats.binom.cdf(k, n, p)
        let cases: [(u64, u64, f64, f64); 10] = [
            (0, 10, 0.3, 0.028247524900000005),
            (3, 10, 0.3, 0.6496107184000002),
            (9, 10, 0.3, 0.9999940951),
            (10, 10, 0.3, 1.0),
            (0, 3000, 0.001, 0.049712393998036286),
            (48, 3000, 0.01, 0.9991660755610199),
            (20, 3000, 0.01, 0.03461489740314794),
            (100, 1000, 0.5, 6.701717790006182e-162),
            (2990, 3000, 0.999, 0.001094402823017237),
            (0, 5, 0.999, 1.0000000000000044e-15),
        ];
        for (k, n, p, expected) in cases {
            assert_rel(
                binom_cdf(k, n, p),
                expected,
                1e-9,
                &format!("binom_cdf({k}, {n}, {p})"),
            );
        }
    }

    #[test]
    fn binom_cdf_edges_and_complement() {
        assert_eq!(binom_cdf(0, 0, 0.5), 1.0);
        assert_eq!(binom_cdf(10, 10, 0.7), 1.0);
        assert_eq!(binom_cdf(3, 10, 0.0), 1.0);
        assert_eq!(binom_cdf(9, 10, 1.0), 0.0);
        assert!(binom_cdf(3, 10, f64::NAN).is_nan());
        // P[X <= k] + P[X >= k + 1] = 1.
        for (k, n, p) in [(3u64, 10u64, 0.3), (48, 3000, 0.01), (499, 1000, 0.5)] {
            let total = binom_cdf(k, n, p) + binom_sf(k + 1, n, p);
            assert!(
                (total - 1.0).abs() < 1e-13,
                "complement for ({k}, {n}, {p}): {total}"
            );
        }
    }

    #[test]
    fn wilson_matches_statsmodels() {
        // statsmodels.stats.proportion.proportion_confint(k, n, alpha=0.05, method="wilson")
        let cases: [(u64, u64, f64, f64); 7] = [
            (0, 10, 0.0, 0.27753279986288926),
            (5, 100, 0.021543679154367966, 0.11175046923191914),
            (48, 3000, 0.012089359129497936, 0.021148566436617604),
            (3000, 3000, 0.9987211512746742, 1.0),
            (10, 10, 0.7224672001371106, 1.0),
            (1, 1, 0.2065493143772374, 1.0),
            (7, 13, 0.29143795714506004, 0.7679393219046169),
        ];
        for (k, n, lo, hi) in cases {
            let (l, h) = wilson_interval(k, n, Z95);
            assert_rel(l, lo, 1e-9, &format!("wilson({k}, {n}).lower"));
            assert_rel(h, hi, 1e-9, &format!("wilson({k}, {n}).upper"));
        }
    }

    #[test]
    fn wilson_edges() {
        assert_eq!(wilson_interval(0, 0, Z95), (0.0, 1.0));
        assert_eq!(wilson_interval(7, 0, Z95), (0.0, 1.0));
        // k > n is treated as k = n.
        assert_eq!(wilson_interval(12, 10, Z95), wilson_interval(10, 10, Z95));
        // The sign of z does not matter.
        assert_eq!(wilson_interval(5, 100, -Z95), wilson_interval(5, 100, Z95));
        // scipy.stats.norm.isf(0.025) == 1.9599639845400545 (1 ulp from Z95).
        assert_rel(Z95, 1.9599639845400545, 1e-15, "Z95");
    }

    #[test]
    fn normal_sf_matches_scipy() {
        // scipy.stats.norm.sf(z)
        let cases = [
            (-40.0, 1.0),
            (-8.0, 0.9999999999999993),
            (-3.0, 0.9986501019683699),
            (-1.0, 0.8413447460685429),
            (-0.5, 0.6914624612740131),
            (0.0, 0.5),
            (0.3, 0.3820885778110474),
            (0.6627, 0.25376135489608787),
            (1.0, 0.15865525393145707),
            (1.959963984540054, 0.025),
            (2.5, 0.006209665325776132),
            (3.0, 0.0013498980316300933),
            (5.0, 2.866515718791933e-07),
            (5.65, 8.022391850663474e-09),
            (8.3, 5.2055697448902465e-17),
            (10.0, 7.61985302416047e-24),
            (20.0, 2.7536241186061556e-89),
            (30.0, 4.906713927147908e-198),
            (37.5, 4.605353009581954e-308),
        ];
        for (z, expected) in cases {
            assert_rel(normal_sf(z), expected, 1e-12, &format!("normal_sf({z})"));
        }
    }

    #[test]
    fn normal_sf_edges() {
        assert!(normal_sf(f64::NAN).is_nan());
        assert_eq!(normal_sf(f64::INFINITY), 0.0);
        assert_eq!(normal_sf(f64::NEG_INFINITY), 1.0);
        assert_eq!(normal_sf(1e300), 0.0);
        // Continuity across Cody's interval boundaries (|x| = 0.46875 and 4).
        for x in [CODY_SMALL, 4.0] {
            let z = x * std::f64::consts::SQRT_2;
            let (below, above) = (normal_sf(z * (1.0 - 1e-12)), normal_sf(z * (1.0 + 1e-12)));
            assert!((below - above).abs() < 1e-10 * below, "jump at z = {z}");
        }
    }

    #[test]
    fn two_proportion_z_matches_statsmodels() {
        // statsmodels.stats.proportion.proportions_ztest([k2, k1], [n2, n1], alternative="larger")
        let cases: [(u64, u64, u64, u64, f64, f64); 5] = [
            (30, 3000, 48, 3000, 2.051476882649854, 0.020110264321042074),
            (10, 1000, 5, 1000, -1.295863081156707, 0.9024886697328747),
            (1, 50, 9, 60, 2.361567276196044, 0.009098934850026703),
            (
                100,
                5000,
                40,
                800,
                5.1332570671175795,
                1.4238526416246316e-07,
            ),
            (0, 100, 5, 100, 2.2645540682891916, 0.011770029130588968),
        ];
        for (k1, n1, k2, n2, z_ref, p_ref) in cases {
            let (z, p) = two_proportion_z(k1, n1, k2, n2);
            let what = format!("two_proportion_z({k1}, {n1}, {k2}, {n2})");
            assert_rel(z, z_ref, 1e-9, &what);
            assert_rel(p, p_ref, 1e-9, &what);
        }
    }

    #[test]
    fn two_proportion_z_degenerate() {
        assert_eq!(two_proportion_z(0, 0, 5, 10), (0.0, 1.0));
        assert_eq!(two_proportion_z(5, 10, 0, 0), (0.0, 1.0));
        assert_eq!(two_proportion_z(0, 10, 0, 20), (0.0, 1.0));
        assert_eq!(two_proportion_z(10, 10, 20, 20), (0.0, 1.0));
        // Equal rates: z = 0, p = 0.5.
        let (z, p) = two_proportion_z(5, 100, 10, 200);
        assert_eq!(z, 0.0);
        assert_eq!(p, 0.5);
    }

    #[test]
    fn benjamini_hochberg_matches_statsmodels() {
        let p = [0.01, 0.04, 0.03, 0.04, 0.2, 0.5, 0.001, 0.03, 0.9, 0.04];
        // statsmodels.stats.multitest.multipletests(p, method="fdr_bh")[1]
        let expected = [
            0.049999999999999996,
            0.05714285714285715,
            0.05714285714285715,
            0.05714285714285715,
            0.25,
            0.5555555555555556,
            0.01,
            0.05714285714285715,
            0.9,
            0.05714285714285715,
        ];
        let q = benjamini_hochberg(&p);
        assert_eq!(q.len(), p.len());
        for (i, (&got, &want)) in q.iter().zip(&expected).enumerate() {
            assert_rel(got, want, 1e-12, &format!("q[{i}]"));
        }
        // Tied p-values get bit-identical q-values.
        assert_eq!(q[1], q[3]);
        assert_eq!(q[1], q[9]);
        assert_eq!(q[2], q[7]);
        // Monotone: a larger p never gets a smaller q.
        for i in 0..p.len() {
            for j in 0..p.len() {
                if p[i] < p[j] {
                    assert!(q[i] <= q[j]);
                }
            }
        }
    }

    #[test]
    fn benjamini_hochberg_edges() {
        assert!(benjamini_hochberg(&[]).is_empty());
        // statsmodels.stats.multitest.multipletests([0.02], method="fdr_bh")[1]
        assert_eq!(benjamini_hochberg(&[0.02]), vec![0.02]);
        // statsmodels.stats.multitest.multipletests([0.9, 0.8, 0.95, 1.0, 0.7], method="fdr_bh")[1]
        assert_eq!(
            benjamini_hochberg(&[0.9, 0.8, 0.95, 1.0, 0.7]),
            vec![1.0; 5]
        );
        // NaN entries stay NaN and do not count towards m.
        let q = benjamini_hochberg(&[0.01, f64::NAN, 0.04]);
        assert_rel(q[0], 0.02, 1e-15, "q[0]");
        assert!(q[1].is_nan());
        assert_rel(q[2], 0.04, 1e-15, "q[2]");
    }

    #[test]
    fn median_and_mad_match_numpy_scipy() {
        // numpy.median(xs), scipy.stats.median_abs_deviation(xs, scale=1.0)
        let cases: [(&[f64], f64, f64); 6] = [
            (&[3.0, 1.0, 2.0], 2.0, 1.0),
            (&[4.0, 1.0, 3.0, 2.0], 2.5, 1.0),
            (&[5.0], 5.0, 0.0),
            (&[1.0, 1.0, 1.0, 100.0], 1.0, 0.0),
            (&[2.5, -1.0, 7.0, 3.25, 0.0, 10.0, -4.5], 2.5, 3.5),
            (&[0.1, 0.2, 0.2, 0.9, 1.5, 0.3], 0.25, 0.09999999999999999),
        ];
        for (xs, med, mad_ref) in cases {
            let before = xs.to_vec();
            assert_rel(median(xs).unwrap(), med, 1e-15, &format!("median({xs:?})"));
            let got = mad(xs).unwrap();
            if mad_ref == 0.0 {
                assert_eq!(got, 0.0, "mad({xs:?})");
            } else {
                assert_rel(got, mad_ref, 1e-12, &format!("mad({xs:?})"));
            }
            assert_eq!(xs, &before[..], "input must not be modified");
        }
    }

    #[test]
    fn median_and_mad_edges() {
        assert_eq!(median(&[]), None);
        assert_eq!(mad(&[]), None);
        assert!(median(&[1.0, f64::NAN, 3.0]).unwrap().is_nan());
        assert!(mad(&[1.0, f64::NAN]).unwrap().is_nan());
        assert_eq!(median(&[f64::MAX, f64::MAX]), Some(f64::MAX));
        assert_eq!(median(&[-0.0, 0.0, 1.0]), Some(0.0));
    }

    #[test]
    fn robust_z_values() {
        // (x - numpy.median(xs)) / max(1.4826 * scipy.stats.median_abs_deviation(xs, scale=1.0), floor)
        // for xs = [0.1, 0.2, 0.2, 0.9, 1.5, 0.3] (median 0.25, mad 0.1).
        assert_rel(
            robust_z(0.9, 0.25, 0.1, 0.01),
            4.38418993659787,
            1e-12,
            "robust_z",
        );
        assert_rel(
            robust_z(0.1, 0.25, 0.1, 0.01),
            -1.011736139214893,
            1e-12,
            "robust_z",
        );
        // The floor takes over when the MAD is 0 (all peers identical).
        assert_rel(
            robust_z(0.05, 0.01, 0.0, 0.02),
            2.0,
            1e-15,
            "robust_z floor",
        );
        // No usable scale: 0 at the median, ±inf elsewhere, never NaN.
        assert_eq!(robust_z(0.3, 0.3, 0.0, 0.0), 0.0);
        assert_eq!(robust_z(0.4, 0.3, 0.0, 0.0), f64::INFINITY);
        assert_eq!(robust_z(0.2, 0.3, 0.0, 0.0), f64::NEG_INFINITY);
    }

    #[test]
    fn beta_binomial_tail_matches_a_direct_sum() {
        // Direct sum of exp(ln pmf) over the tail, against the two code paths (upward sum
        // above the mean, one minus the lower sum below it).
        for &(k, n, a, b) in &[
            (0u64, 50u64, 2.0, 300.0),
            (1, 50, 2.0, 300.0),
            (3, 500, 0.7, 150.0),
            (12, 500, 0.7, 150.0),
            (40, 2000, 5.0, 900.0),
            (2, 2000, 5.0, 900.0),
        ] {
            let direct: f64 = (k..=n).map(|x| beta_binom_ln_pmf(x, n, a, b).exp()).sum();
            assert_rel(
                beta_binom_sf(k, n, a, b),
                direct.min(1.0),
                1e-9,
                "beta_binom_sf",
            );
        }
        // The pmf sums to one.
        let total: f64 = (0..=300)
            .map(|x| beta_binom_ln_pmf(x, 300, 1.5, 80.0).exp())
            .sum();
        assert_rel(total, 1.0, 1e-12, "pmf total");
    }

    #[test]
    fn the_robust_fit_is_not_inflated_by_a_broken_unit() {
        // 60 healthy units at 0.3% ± a little, 5,000 transactions each, and one broken unit
        // with 700 faults in 20,000: the plain moment fit's ρ jumps, the robust one's does not.
        let mut units: Vec<(u64, u64)> = (0..60).map(|i| (12 + (i % 7), 5_000)).collect();
        let healthy = BetaBinomial::fit_robust(&units).expect("fit");
        units.push((700, 20_000));
        let plain = BetaBinomial::fit(&units).expect("fit");
        let robust = BetaBinomial::fit_robust(&units).expect("fit");
        assert!(
            plain.rho > 20.0 * healthy.rho.max(1e-5),
            "{plain:?} {healthy:?}"
        );
        assert!(
            (robust.mean - healthy.mean).abs() < 0.1 * healthy.mean,
            "{robust:?}"
        );
        assert!(robust.rho <= healthy.rho + 1e-4, "{robust:?} {healthy:?}");
        // The broken unit is extreme under the robust null, ordinary under the plain one.
        assert!(robust.sf(700, 20_000) < 1e-30);
        assert!(plain.sf(700, 20_000) > 1e-6);
    }

    #[test]
    fn beta_binomial_is_wider_than_binomial_and_fits_its_own_spread() {
        // A terminal with 30 faults in 3000 where the mean is 0.5%: extreme for one binomial
        // rate, ordinary for a fleet whose terminals' rates spread (ρ = 0.003).
        let bb = BetaBinomial {
            mean: 0.005,
            rho: 0.003,
        };
        assert!(binom_sf(30, 3000, 0.005) < 1e-3);
        assert!(bb.sf(30, 3000) > 0.05, "{}", bb.sf(30, 3000));
        // Equal volumes, no spread beyond binomial: ρ fits to about 0.
        let units: Vec<(u64, u64)> = [4u64, 6, 5, 5, 4, 6, 5, 5]
            .iter()
            .map(|&k| (k, 1000))
            .collect();
        let fit = BetaBinomial::fit(&units).expect("fit");
        assert_rel(fit.mean, 0.005, 1e-12, "mean");
        assert_eq!(fit.rho, 0.0);
        // Rates 0.2% and 0.8% at 10,000 each: far beyond binomial noise, ρ clearly positive.
        let units = [(20u64, 10_000u64), (80, 10_000), (20, 10_000), (80, 10_000)];
        let fit = BetaBinomial::fit(&units).expect("fit");
        assert!(fit.rho > 1e-3 && fit.rho < 4e-3, "{}", fit.rho);
        assert!(BetaBinomial::fit(&[(1, 10)]).is_none());
    }

    #[test]
    fn change_point_finds_synthetic_jump() {
        let trials = [200u64; 28];
        let successes = [
            3u64, 2, 4, 3, 1, 2, 3, 5, 2, 3, 4, 2, 3, 2, // ~1.4 %
            14, 17, 12, 15, 18, 13, 16, 14, 15, 19, 12, 16, 14, 17, // ~7.6 %
        ];
        let cp = change_point(&successes, &trials).expect("change point");
        assert_eq!(cp.index, 14);
        // 39 / 2800 and 212 / 2800.
        assert_rel(cp.rate_before, 0.013928571428571429, 1e-15, "rate_before");
        assert_rel(cp.rate_after, 0.07571428571428572, 1e-15, "rate_after");
        // sum(scipy.stats.binom.logpmf(s, n, rate_of_its_segment))
        //   - sum(scipy.stats.binom.logpmf(s, n, pooled_rate))   at split 14
        assert_rel(cp.log_likelihood_ratio, 68.36456269324599, 1e-9, "llr");
    }

    #[test]
    fn change_point_small_series_and_ties() {
        // Same logpmf-difference reference; LLR per split for s = [0, 0, 0, 5], n = 10 each:
        // split 1: 1.5539701842683318, 2: 3.8241035578813047, 3: 8.139334644658017.
        let cp = change_point(&[0, 0, 0, 5], &[10, 10, 10, 10]).unwrap();
        assert_eq!(cp.index, 3);
        assert_eq!(cp.rate_before, 0.0);
        assert_eq!(cp.rate_after, 0.5);
        assert_rel(cp.log_likelihood_ratio, 8.139334644658017, 1e-9, "llr");

        // A zero-trial bucket makes splits 2 and 3 identical; the earlier wins.
        // xlogy-based LLR (scipy.special.xlogy): 8.630462173553427 at both.
        let cp = change_point(&[0, 0, 0, 5, 5], &[10, 10, 0, 10, 10]).unwrap();
        assert_eq!(cp.index, 2);
        assert_rel(cp.log_likelihood_ratio, 8.630462173553427, 1e-9, "llr tie");

        // Leading zero-trial bucket: split 1 has an empty first segment.
        // scipy.special.xlogy-based LLR: splits 2, 3 -> 2.2634417038475334, split 4 -> 6.2301666531238915
        let cp = change_point(&[0, 2, 0, 3, 9], &[0, 10, 0, 10, 10]).unwrap();
        assert_eq!(cp.index, 4);
        assert_rel(
            cp.log_likelihood_ratio,
            6.2301666531238915,
            1e-9,
            "llr leading zero",
        );
    }

    #[test]
    fn change_point_edges() {
        assert_eq!(change_point(&[], &[]), None);
        assert_eq!(change_point(&[1], &[10]), None);
        assert_eq!(change_point(&[0, 0, 0], &[0, 0, 0]), None);
        assert_eq!(change_point(&[1, 0, 0], &[10, 0, 0]), None);
        // Mismatched lengths are truncated to the shorter slice.
        assert_eq!(
            change_point(&[1, 5, 9], &[10, 10]),
            change_point(&[1, 5], &[10, 10])
        );
        // Successes above trials are clamped.
        assert_eq!(
            change_point(&[0, 20], &[10, 10]),
            change_point(&[0, 10], &[10, 10])
        );
        // All failures / all successes: pooled rate 0 or 1, LLR 0, no panic.
        let cp = change_point(&[0, 0, 0], &[5, 5, 5]).unwrap();
        assert_eq!((cp.index, cp.log_likelihood_ratio), (1, 0.0));
        let cp = change_point(&[5, 5, 5], &[5, 5, 5]).unwrap();
        assert_eq!((cp.index, cp.log_likelihood_ratio), (1, 0.0));
        // Huge counts do not overflow.
        let cp = change_point(&[u64::MAX / 2, 0], &[u64::MAX, u64::MAX]).unwrap();
        assert_eq!(cp.index, 1);
        assert!(cp.log_likelihood_ratio.is_finite());
    }
}
