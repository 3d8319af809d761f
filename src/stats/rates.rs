//! Rates and their intervals (docs/statistics.md "Rates").

/// z for a two-sided 95% interval: the 0.975 quantile of the standard normal.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Wilson score interval for `k` successes in `n` trials at normal quantile `z`.
/// Returns (low, high); None when n = 0.
pub fn wilson(k: u64, n: u64, z: f64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let n = n as f64;
    let p = k as f64 / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// `k / n`, None when n = 0.
pub fn ratio(k: u64, n: u64) -> Option<f64> {
    (n > 0).then(|| k as f64 / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference: statsmodels, produced by
    //   from statsmodels.stats.proportion import proportion_confint
    //   for k, n in [(0, 10), (7, 10), (10, 10), (431, 1000), (1, 3)]:
    //       print(k, n, proportion_confint(k, n, alpha=0.05, method="wilson"))
    const REF: &[(u64, u64, f64, f64)] = &[
        (0, 10, 0.0, 0.27753279986288926),
        (7, 10, 0.39677814746114537, 0.8922087325936989),
        (10, 10, 0.7224672001371106, 1.0),
        (431, 1000, 0.4006284437674723, 0.4618996489035343),
        (1, 3, 0.06149194472039626, 0.7923403991979523),
    ];

    #[test]
    fn wilson_matches_statsmodels() {
        for &(k, n, lo, hi) in REF {
            let (l, h) = wilson(k, n, Z95).unwrap();
            assert!(
                (l - lo).abs() <= 1e-9 * lo.abs().max(1e-12),
                "{k}/{n} low {l} vs {lo}"
            );
            assert!(
                (h - hi).abs() <= 1e-9 * hi.abs(),
                "{k}/{n} high {h} vs {hi}"
            );
        }
        assert_eq!(wilson(0, 0, Z95), None);
        assert_eq!(ratio(1, 4), Some(0.25));
        assert_eq!(ratio(1, 0), None);
    }
}
