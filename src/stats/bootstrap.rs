//! Seeded percentile bootstrap of a difference of p50, p95 or mean
//! between two samples (docs/statistics.md "Regression comparison": B = 2000,
//! same seed, same output).
//!
//! Samples arrive as (value, count) histograms (what an engine returns).
//! Resampling n values with replacement is done without drawing n values:
//! * a quantile of the resample needs two order statistics; the j-th
//!   order statistic of n uniforms is Beta(j, n - j + 1) and the next one
//!   follows as U + (1 - U) Beta(1, n - j), and mapping uniforms through
//!   the sample's inverse CDF gives the resample's order statistics
//!   exactly (in distribution). Cost: O(log K) per replicate.
//! * the mean of the resample is sum N_i v_i / n with N multinomial over
//!   the histogram's bins, drawn as conditional binomials; histograms with
//!   more than 128 distinct values are first merged into at most 128
//!   log-spaced bins that keep their exact sums (relative width
//!   (max/min)^(1/126): 5.6% for a 1000x range; the spread lost inside a
//!   bin is a negligible share of the variance).
//!
//! Replicates run in parallel (rayon) in fixed chunks, each with its own
//! generator seeded from (seed, chunk), so the result does not depend on
//! the number of threads.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Beta, Binomial, Distribution};
use rayon::prelude::*;

/// Replicates per interval (docs/statistics.md).
pub const REPLICATES: usize = 2000;
const CHUNK: usize = 50;
const MAX_MEAN_BINS: usize = 128;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Statistic {
    /// type-7 quantile at this probability
    Quantile(f64),
    Mean,
}

/// A sample given as a histogram.
#[derive(Clone, Debug)]
pub struct Sample {
    /// distinct values, ascending
    values: Vec<f64>,
    /// cumulative counts: values[i] holds ranks cum[i-1]+1 ..= cum[i]
    cum: Vec<u64>,
    /// (mean value, count) bins for the mean, most populated first
    mean_bins: Vec<(f64, u64)>,
    sum: f64,
}

impl Sample {
    pub fn new(pairs: &[(f64, u64)]) -> Sample {
        let mut v: Vec<(f64, u64)> = pairs
            .iter()
            .copied()
            .filter(|(x, c)| *c > 0 && x.is_finite())
            .collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut values: Vec<f64> = Vec::with_capacity(v.len());
        let mut counts: Vec<u64> = Vec::with_capacity(v.len());
        for (x, c) in v {
            if values.last() == Some(&x) {
                *counts.last_mut().unwrap_or(&mut 0) += c;
            } else {
                values.push(x);
                counts.push(c);
            }
        }
        let mut cum = Vec::with_capacity(counts.len());
        let mut run = 0u64;
        for c in &counts {
            run += c;
            cum.push(run);
        }
        let sum = values.iter().zip(&counts).map(|(x, c)| x * *c as f64).sum();
        let mut mean_bins = if values.len() <= MAX_MEAN_BINS {
            values.iter().copied().zip(counts.iter().copied()).collect()
        } else {
            merge_log_spaced(&values, &counts)
        };
        mean_bins.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.total_cmp(&b.0)));
        Sample {
            values,
            cum,
            mean_bins,
            sum,
        }
    }

    pub fn n(&self) -> u64 {
        self.cum.last().copied().unwrap_or(0)
    }

    /// The value of 1-based rank `k` in sorted order.
    fn at_rank(&self, k: u64) -> f64 {
        let i = self.cum.partition_point(|c| *c < k);
        self.values[i.min(self.values.len() - 1)]
    }

    /// The sample's own statistic (type-7 quantile or mean).
    pub fn statistic(&self, s: Statistic) -> Option<f64> {
        let n = self.n();
        if n == 0 {
            return None;
        }
        Some(match s {
            Statistic::Mean => self.sum / n as f64,
            Statistic::Quantile(p) => {
                let h = (n - 1) as f64 * p;
                let lo = h.floor() as u64;
                let (a, b) = (self.at_rank(lo + 1), self.at_rank((lo + 2).min(n)));
                a + (h - lo as f64) * (b - a)
            }
        })
    }

    /// The statistic of one resample of n values with replacement.
    fn resample(&self, s: Statistic, rng: &mut StdRng) -> f64 {
        let n = self.n();
        match s {
            Statistic::Quantile(p) => {
                let h = (n - 1) as f64 * p;
                let lo = h.floor() as u64;
                let frac = h - lo as f64;
                let j = lo + 1;
                // U_(j) ~ Beta(j, n - j + 1)
                let u = Beta::new(j as f64, (n - j + 1) as f64)
                    .map(|d| d.sample(rng))
                    .unwrap_or(0.5);
                let a = self.inverse(u);
                if frac == 0.0 || j >= n {
                    return a;
                }
                // U_(j+1) = U_(j) + (1 - U_(j)) * Beta(1, n - j)
                let v: f64 = rng.random();
                let step = 1.0 - v.powf(1.0 / (n - j) as f64);
                let b = self.inverse(u + (1.0 - u) * step);
                a + frac * (b - a)
            }
            Statistic::Mean => {
                let (mut left, mut mass) = (n, n);
                let mut total = 0.0;
                let last = self.mean_bins.len() - 1;
                for (i, (v, c)) in self.mean_bins.iter().enumerate() {
                    if left == 0 {
                        break;
                    }
                    let k = if i == last || *c >= mass {
                        left
                    } else {
                        Binomial::new(left, (*c as f64 / mass as f64).min(1.0))
                            .map(|d| d.sample(rng))
                            .unwrap_or(0)
                    };
                    total += k as f64 * v;
                    left -= k;
                    mass -= c;
                }
                total / n as f64
            }
        }
    }

    /// The sample's inverse CDF at u in [0, 1]: the value of rank ceil(u n).
    fn inverse(&self, u: f64) -> f64 {
        let n = self.n();
        let k = ((u * n as f64).ceil() as u64).clamp(1, n);
        self.at_rank(k)
    }
}

/// Merge sorted distinct values into at most [`MAX_MEAN_BINS`] bins of
/// (mean value, count): zeros in one bin, positive and negative values each
/// in log-spaced bins of |x| between their smallest and largest magnitude.
fn merge_log_spaced(values: &[f64], counts: &[u64]) -> Vec<(f64, u64)> {
    let per_sign = (MAX_MEAN_BINS - 1) / 2;
    let mut out: std::collections::BTreeMap<(i8, usize), (f64, u64)> = Default::default();
    for sign in [-1.0f64, 1.0] {
        let mags: Vec<f64> = values
            .iter()
            .filter(|x| **x * sign > 0.0)
            .map(|x| x.abs())
            .collect();
        let (Some(lo), Some(hi)) = (
            mags.iter().copied().reduce(f64::min),
            mags.iter().copied().reduce(f64::max),
        ) else {
            continue;
        };
        let width = ((hi / lo).ln() / per_sign as f64).max(f64::MIN_POSITIVE);
        for (x, c) in values.iter().zip(counts) {
            if *x * sign > 0.0 {
                let b = (((x.abs() / lo).ln() / width) as usize).min(per_sign - 1);
                let e = out.entry((sign as i8, b)).or_default();
                e.0 += x * *c as f64;
                e.1 += c;
            }
        }
    }
    let zeros: u64 = values
        .iter()
        .zip(counts)
        .filter(|(x, _)| **x == 0.0)
        .map(|(_, c)| c)
        .sum();
    let mut bins: Vec<(f64, u64)> = out.into_values().map(|(s, c)| (s / c as f64, c)).collect();
    if zeros > 0 {
        bins.push((0.0, zeros));
    }
    bins
}

/// The sorted (value, count) pairs of the sample.
impl Sample {
    pub fn pairs(&self) -> Vec<(f64, u64)> {
        let mut prev = 0;
        self.values
            .iter()
            .zip(&self.cum)
            .map(|(v, c)| {
                let n = c - prev;
                prev = *c;
                (*v, n)
            })
            .collect()
    }
}

/// A seed for chunk `i`: splitmix64 of the user's seed and the chunk.
fn chunk_seed(seed: u64, i: u64) -> u64 {
    let mut z = seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The bootstrap distribution of stat(candidate) - stat(baseline),
/// `replicates` values in a fixed order.
pub fn diff_replicates(
    base: &Sample,
    cand: &Sample,
    stat: Statistic,
    replicates: usize,
    seed: u64,
) -> Vec<f64> {
    if base.n() == 0 || cand.n() == 0 {
        return Vec::new();
    }
    let chunks = replicates.div_ceil(CHUNK);
    (0..chunks)
        .into_par_iter()
        .flat_map_iter(|c| {
            let mut rng = StdRng::seed_from_u64(chunk_seed(seed, c as u64));
            let len = CHUNK.min(replicates - c * CHUNK);
            (0..len)
                .map(|_| {
                    let b = base.resample(stat, &mut rng);
                    cand.resample(stat, &mut rng) - b
                })
                .collect::<Vec<f64>>()
        })
        .collect()
}

/// Percentile bootstrap 95% interval of stat(candidate) - stat(baseline).
pub fn diff_ci(
    base: &Sample,
    cand: &Sample,
    stat: Statistic,
    replicates: usize,
    seed: u64,
) -> Option<(f64, f64)> {
    let mut d = diff_replicates(base, cand, stat, replicates, seed);
    if d.is_empty() {
        return None;
    }
    d.sort_by(f64::total_cmp);
    let q = |p: f64| {
        let h = (d.len() - 1) as f64 * p;
        let lo = h.floor() as usize;
        let hi = (lo + 1).min(d.len() - 1);
        d[lo] + (h - lo as f64) * (d[hi] - d[lo])
    };
    Some((q(0.025), q(0.975)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::LogNormal;

    fn lognormal(n: usize, mu: f64, seed: u64) -> Vec<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        let d = LogNormal::new(mu, 0.5).unwrap();
        (0..n)
            .map(|_| (d.sample(&mut rng) * 10.0).round())
            .collect()
    }

    fn hist(v: &[f64]) -> Vec<(f64, u64)> {
        let mut m: std::collections::BTreeMap<u64, u64> = Default::default();
        for x in v {
            *m.entry(x.to_bits()).or_default() += 1;
        }
        m.into_iter().map(|(b, c)| (f64::from_bits(b), c)).collect()
    }

    fn mean_sd(v: &[f64]) -> (f64, f64) {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
        (m, var.sqrt())
    }

    #[test]
    fn statistics_of_the_sample_are_type7() {
        let s = Sample::new(&[
            (1.0, 1),
            (2.5, 2),
            (10.0, 1),
            (7.25, 1),
            (3.0, 1),
            (100.0, 1),
        ]);
        // DuckDB quantile_cont over 1, 2.5, 2.5, 10, 7.25, 3, 100 (src/stats/quantile.rs)
        assert_eq!(s.statistic(Statistic::Quantile(0.5)), Some(3.0));
        assert!((s.statistic(Statistic::Quantile(0.95)).unwrap() - 72.99999999999994).abs() < 1e-9);
        assert!((s.statistic(Statistic::Mean).unwrap() - 126.25 / 7.0).abs() < 1e-12);
    }

    // The order-statistic resampling must have the distribution of naive
    // resampling (draw n values, take the type-7 quantile): compare the
    // mean and spread of 4000 replicates of each.
    #[test]
    fn order_statistic_resampling_equals_naive_resampling() {
        let values = lognormal(300, 3.0, 11);
        let s = Sample::new(&hist(&values));
        let mut rng = StdRng::seed_from_u64(5);
        for stat in [
            Statistic::Quantile(0.5),
            Statistic::Quantile(0.95),
            Statistic::Mean,
        ] {
            let fast: Vec<f64> = (0..4000).map(|_| s.resample(stat, &mut rng)).collect();
            let naive: Vec<f64> = (0..4000)
                .map(|_| {
                    let r: Vec<(f64, u64)> = (0..values.len())
                        .map(|_| (values[rng.random_range(0..values.len())], 1))
                        .collect();
                    Sample::new(&r).statistic(stat).unwrap()
                })
                .collect();
            let ((mf, sf), (mn, sn)) = (mean_sd(&fast), mean_sd(&naive));
            assert!(
                (mf - mn).abs() < 0.1 * sn + 1e-9,
                "{stat:?}: mean {mf} vs {mn} (sd {sn})"
            );
            assert!((sf / sn - 1.0).abs() < 0.1, "{stat:?}: sd {sf} vs {sn}");
        }
    }

    #[test]
    fn interval_is_seeded_and_covers_a_known_shift() {
        let base = Sample::new(&hist(&lognormal(2000, 3.0, 1)));
        let cand = Sample::new(&hist(&lognormal(2000, 3.2, 2)));
        let a = diff_ci(&base, &cand, Statistic::Quantile(0.5), REPLICATES, 7).unwrap();
        let b = diff_ci(&base, &cand, Statistic::Quantile(0.5), REPLICATES, 7).unwrap();
        assert_eq!(a, b, "same seed, same interval");
        let c = diff_ci(&base, &cand, Statistic::Quantile(0.5), REPLICATES, 8).unwrap();
        assert_ne!(a, c);
        // true medians 10 e^3 and 10 e^3.2: difference ~44.4
        let truth = 10.0 * (3.2f64.exp() - 3.0f64.exp());
        assert!(a.0 < truth && truth < a.1, "{a:?} vs {truth}");
        let m = diff_ci(&base, &cand, Statistic::Mean, REPLICATES, 7).unwrap();
        assert!(m.0 > 0.0, "{m:?}");
        // a large histogram merged into log buckets keeps its exact mean
        let wide: Vec<(f64, u64)> = (1..5000).map(|i| (i as f64 * 0.37, 1 + i % 3)).collect();
        let w = Sample::new(&wide);
        assert!(w.mean_bins.len() <= MAX_MEAN_BINS, "{}", w.mean_bins.len());
        assert_eq!(Sample::new(&w.pairs()).pairs(), w.pairs());
        let exact: f64 = wide.iter().map(|(x, c)| x * *c as f64).sum::<f64>()
            / wide.iter().map(|p| p.1).sum::<u64>() as f64;
        assert!((w.statistic(Statistic::Mean).unwrap() - exact).abs() < 1e-9 * exact);
    }
}
