//! Percentiles (docs/statistics.md "Percentiles").
//!
//! * exact: Hyndman-Fan type 7 (linear interpolation between closest
//!   ranks) = numpy `quantile(method="linear")` = DuckDB `quantile_cont`;
//! * from a value histogram (value -> count), the same type 7 over the
//!   expanded values, without expanding them;
//! * from a log-bucket histogram (`floor(ln(x)/ln(1.02))` -> count): type 7
//!   over bucket representatives, 1% relative accuracy (DDSketch-style).

/// Base of the log buckets: relative accuracy (GAMMA - 1) / (GAMMA + 1) < 1%.
pub const GAMMA: f64 = 1.02;
/// Bucket index used for values <= 0 (which have no logarithm). Not
/// i64::MIN itself: its literal does not parse in every SQL dialect.
pub const ZERO_BUCKET: i64 = i64::MIN + 1;

/// Bucket index used for +inf: the bucket of the largest finite double.
pub const TOP_BUCKET: i64 = 35_842;

/// The log-bucket index of `x`: `floor(ln(x) / ln(1.02))`, [`ZERO_BUCKET`]
/// for x <= 0 (and NaN), [`TOP_BUCKET`] for +inf.
pub fn log_bucket(x: f64) -> i64 {
    if x > 0.0 && x.is_finite() {
        (x.ln() / GAMMA.ln()).floor() as i64
    } else if x > 0.0 {
        TOP_BUCKET
    } else {
        ZERO_BUCKET
    }
}

/// The value standing for bucket `i` (covering [γ^i, γ^(i+1))): the point
/// with equal relative error to both ends, 2γ^(i+1)/(γ+1).
pub fn bucket_value(i: i64) -> f64 {
    if i == ZERO_BUCKET {
        0.0
    } else {
        2.0 * GAMMA.powf(i as f64 + 1.0) / (GAMMA + 1.0)
    }
}

/// Type-7 quantile of sorted, non-empty `v` at probability `p` in [0, 1].
fn type7_sorted(v: &[f64], p: f64) -> f64 {
    let h = (v.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

/// Exact type-7 quantile of `values` (NaN excluded); None when empty.
pub fn quantile(values: &[f64], p: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(type7_sorted(&v, p))
}

/// Type-7 quantile of the multiset given as (value, count) pairs, exactly
/// as [`quantile`] on the expanded values. Pairs need not be sorted; zero
/// counts and NaN values are ignored.
pub fn quantile_weighted(pairs: &[(f64, u64)], p: f64) -> Option<f64> {
    let mut v: Vec<(f64, u64)> = pairs
        .iter()
        .copied()
        .filter(|(x, c)| *c > 0 && !x.is_nan())
        .collect();
    let n: u64 = v.iter().map(|(_, c)| c).sum();
    if n == 0 {
        return None;
    }
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let h = (n - 1) as f64 * p;
    let lo = h.floor() as u64;
    let hi = (lo + 1).min(n - 1);
    let at = |rank: u64| -> f64 {
        let mut seen = 0u64;
        for (x, c) in &v {
            seen += c;
            if rank < seen {
                return *x;
            }
        }
        v[v.len() - 1].0
    };
    let (a, b) = (at(lo), at(hi));
    Some(a + (h - lo as f64) * (b - a))
}

/// Type-7 quantile over a log-bucket histogram (bucket index, count).
pub fn quantile_log_buckets(buckets: &[(i64, u64)], p: f64) -> Option<f64> {
    let pairs: Vec<(f64, u64)> = buckets
        .iter()
        .map(|(i, c)| (bucket_value(*i), *c))
        .collect();
    quantile_weighted(&pairs, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference: DuckDB 2.0.0,
    //   SELECT quantile_cont(x::DOUBLE, [0.5, 0.95, 0.99])
    //   FROM (VALUES (1.0),(2.5),(2.5),(10.0),(7.25),(3.0),(100.0)) t(x);
    //   -> [3.0, 72.99999999999994, 94.59999999999995]
    #[test]
    fn type7_matches_duckdb_quantile_cont() {
        let v = [1.0, 2.5, 2.5, 10.0, 7.25, 3.0, 100.0];
        let want = [
            (0.5, 3.0),
            (0.95, 72.99999999999994),
            (0.99, 94.59999999999995),
        ];
        for (p, w) in want {
            let got = quantile(&v, p).unwrap();
            assert!((got - w).abs() <= 1e-9 * w, "p{p}: {got} vs {w}");
        }
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[4.0], 0.99), Some(4.0));
    }

    #[test]
    fn weighted_equals_expanded() {
        let pairs = [(10.0, 3), (1.0, 2), (5.0, 1), (7.0, 0)];
        let expanded = [10.0, 10.0, 10.0, 1.0, 1.0, 5.0];
        for p in [0.0, 0.1, 0.5, 0.77, 0.95, 1.0] {
            assert_eq!(quantile_weighted(&pairs, p), quantile(&expanded, p), "p{p}");
        }
        assert_eq!(quantile_weighted(&[(1.0, 0)], 0.5), None);
    }

    #[test]
    fn log_buckets_within_one_percent() {
        assert_eq!(log_bucket(1.0), 0);
        assert_eq!(log_bucket(1.02f64.powi(10) * 1.0001), 10);
        assert_eq!(log_bucket(0.0), ZERO_BUCKET);
        assert_eq!(log_bucket(-3.0), ZERO_BUCKET);
        assert_eq!(log_bucket(f64::MAX), TOP_BUCKET);
        assert_eq!(log_bucket(f64::INFINITY), TOP_BUCKET);
        // every value is within 1% of its bucket's representative
        for k in 1..2000 {
            let x = 0.013 * 1.0137f64.powi(k);
            let r = bucket_value(log_bucket(x));
            assert!(((r - x) / x).abs() < 0.01, "{x} -> {r}");
        }
        let values: Vec<f64> = (1..=1000).map(|i| i as f64 * 1.7).collect();
        let mut h = std::collections::BTreeMap::new();
        for x in &values {
            *h.entry(log_bucket(*x)).or_insert(0u64) += 1;
        }
        let buckets: Vec<(i64, u64)> = h.into_iter().collect();
        for p in [0.5, 0.95, 0.99] {
            let exact = quantile(&values, p).unwrap();
            let approx = quantile_log_buckets(&buckets, p).unwrap();
            assert!(
                ((approx - exact) / exact).abs() < 0.01,
                "p{p}: {approx} vs {exact}"
            );
        }
    }
}
