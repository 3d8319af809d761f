//! Drift between a baseline and a current window (docs/statistics.md "Drift"):
//! bins from the baseline only, PSI, Jensen-Shannon distance, Pearson
//! chi-squared test of homogeneity, and the verdict.
//!
//! Numeric fields arrive as log-bucket histograms (bucket index -> count,
//! what every engine returns); the deciles are taken over the bucket
//! ordinals, so the bins are those of docs/statistics.md applied at the 2%
//! bucket resolution, and a reader reproduces them with numpy from the
//! same buckets (tests/reference/scipy_stats.py).

use std::collections::BTreeMap;

use super::hypothesis::chi2_sf;
use super::quantile::ZERO_BUCKET;

/// Zero shares are replaced by this before the PSI sum (Evidently's convention).
pub const PSI_FLOOR: f64 = 1e-4;
/// Fewer values than this in either window: `insufficient`.
pub const MIN_VALUES: u64 = 100;
/// Categories with their own bin, by baseline frequency.
pub const TOP_CATEGORIES: usize = 20;
/// The ordinal of the bucket of values <= 0: below every real bucket.
pub const ZERO_ORDINAL: f64 = -1e6;
/// The pooled bin of rare baseline categories.
pub const OTHER: &str = "__other__";

/// Bin shares of counts (all zero when the total is zero).
pub fn shares(counts: &[u64]) -> Vec<f64> {
    let n: u64 = counts.iter().sum();
    counts
        .iter()
        .map(|c| if n == 0 { 0.0 } else { *c as f64 / n as f64 })
        .collect()
}

/// PSI = sum (q - p) ln(q / p) over bin shares, zero shares replaced by 1e-4.
pub fn psi(p: &[f64], q: &[f64]) -> f64 {
    let floor = |x: f64| if x == 0.0 { PSI_FLOOR } else { x };
    p.iter()
        .zip(q)
        .map(|(&a, &b)| {
            let (a, b) = (floor(a), floor(b));
            (b - a) * (b / a).ln()
        })
        .sum()
}

/// Jensen-Shannon distance, log base 2, in [0, 1]
/// (= `scipy.spatial.distance.jensenshannon(p, q, base=2)`; inputs are
/// normalised to sum 1 first, as scipy does).
pub fn js_distance(p: &[f64], q: &[f64]) -> f64 {
    let (sp, sq): (f64, f64) = (p.iter().sum(), q.iter().sum());
    if sp <= 0.0 || sq <= 0.0 {
        return 0.0;
    }
    let rel = |x: f64, m: f64| if x > 0.0 { x * (x / m).ln() } else { 0.0 };
    let mut d = 0.0;
    for (&a, &b) in p.iter().zip(q) {
        let (a, b) = (a / sp, b / sq);
        let m = (a + b) / 2.0;
        d += rel(a, m) + rel(b, m);
    }
    // rounding can put disjoint supports a hair past 1 (proptest found
    // 1.0000000000000002; tests/proptest-regressions keeps the case)
    (d / 2.0 / std::f64::consts::LN_2).clamp(0.0, 1.0).sqrt()
}

/// A chi-squared test result.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChiSquared {
    pub statistic: f64,
    pub df: u64,
    pub p: f64,
}

/// Pearson chi-squared test of homogeneity on the 2 x B table of counts
/// `a` (baseline) and `b` (current), bins empty in both dropped, no
/// continuity correction (= `scipy.stats.chi2_contingency(correction=False)`).
/// None when fewer than two bins or an empty row leave nothing to test.
pub fn chi2_homogeneity(a: &[u64], b: &[u64]) -> Option<ChiSquared> {
    let cols: Vec<(f64, f64)> = a
        .iter()
        .zip(b)
        .filter(|(x, y)| **x + **y > 0)
        .map(|(x, y)| (*x as f64, *y as f64))
        .collect();
    let (ra, rb): (f64, f64) = cols.iter().fold((0.0, 0.0), |s, c| (s.0 + c.0, s.1 + c.1));
    if cols.len() < 2 || ra == 0.0 || rb == 0.0 {
        return None;
    }
    let n = ra + rb;
    let mut stat = 0.0;
    for (x, y) in &cols {
        let col = x + y;
        let (ea, eb) = (ra * col / n, rb * col / n);
        stat += (x - ea).powi(2) / ea + (y - eb).powi(2) / eb;
    }
    let df = (cols.len() - 1) as u64;
    Some(ChiSquared {
        statistic: stat,
        df,
        p: chi2_sf(stat, df as f64),
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Drift,
    Moderate,
    Stable,
    Insufficient,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Drift => "drift",
            Verdict::Moderate => "moderate",
            Verdict::Stable => "stable",
            Verdict::Insufficient => "insufficient",
        }
    }
}

/// PSI from which a significant change is a drift.
pub const PSI_DRIFT: f64 = 0.25;
/// Jensen-Shannon distance from which a significant change is a drift.
pub const JS_DRIFT: f64 = 0.1;

/// `drift` when (PSI >= 0.25 or JS >= 0.1) and p < 0.01; `moderate` when
/// 0.1 <= PSI < 0.25 and p < 0.01; `insufficient` below 100 values in a
/// window; `stable` otherwise.
pub fn verdict(n_base: u64, n_cur: u64, psi: f64, js: f64, p: Option<f64>) -> Verdict {
    if n_base < MIN_VALUES || n_cur < MIN_VALUES {
        return Verdict::Insufficient;
    }
    let significant = p.is_some_and(|p| p < 0.01);
    if significant && (psi >= PSI_DRIFT || js >= JS_DRIFT) {
        Verdict::Drift
    } else if significant && (0.1..PSI_DRIFT).contains(&psi) {
        Verdict::Moderate
    } else {
        Verdict::Stable
    }
}

/// The ordinal of a log bucket: its index, [`ZERO_ORDINAL`] for values <= 0.
pub fn ordinal(bucket: i64) -> f64 {
    if bucket == ZERO_BUCKET {
        ZERO_ORDINAL
    } else {
        bucket as f64
    }
}

/// Decile edges of the baseline (type 7 at 0.1 .. 0.9 over the bucket
/// ordinals), duplicates removed, ascending. Empty for an empty baseline.
pub fn decile_edges(base: &[(i64, u64)]) -> Vec<f64> {
    let pairs: Vec<(f64, u64)> = base.iter().map(|(b, c)| (ordinal(*b), *c)).collect();
    let mut edges: Vec<f64> = (1..10)
        .filter_map(|i| super::quantile::quantile_weighted(&pairs, i as f64 / 10.0))
        .collect();
    edges.sort_by(f64::total_cmp);
    edges.dedup();
    edges
}

/// The right-closed bin of ordinal `x`: the number of edges below it, so
/// bin 0 is (-inf, e0], bin i is (e(i-1), e(i)], the last (e(last), +inf).
pub fn bin_of(edges: &[f64], x: f64) -> usize {
    edges.partition_point(|e| *e < x)
}

/// Counts per bin of a log-bucket histogram.
pub fn bin_counts(edges: &[f64], hist: &[(i64, u64)]) -> Vec<u64> {
    let mut out = vec![0u64; edges.len() + 1];
    for (b, c) in hist {
        out[bin_of(edges, ordinal(*b))] += c;
    }
    out
}

/// Categorical bins: the top 20 baseline categories (by count, then name),
/// `__other__` for the rest of the baseline, then categories new in the
/// current window, each in its own bin (by current count, then name).
#[derive(Clone, Debug, PartialEq)]
pub struct CategoryBins {
    pub labels: Vec<String>,
    pub base: Vec<u64>,
    pub cur: Vec<u64>,
}

pub fn category_bins(base: &BTreeMap<String, u64>, cur: &BTreeMap<String, u64>) -> CategoryBins {
    let mut ranked: Vec<(&String, &u64)> = base.iter().filter(|(_, n)| **n > 0).collect();
    ranked.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let mut labels: Vec<String> = ranked
        .iter()
        .take(TOP_CATEGORIES)
        .map(|(k, _)| (*k).clone())
        .collect();
    let index: BTreeMap<String, usize> = labels
        .iter()
        .enumerate()
        .map(|(i, k)| (k.clone(), i))
        .collect();
    let pooled = ranked.len() > TOP_CATEGORIES;
    let other = labels.len();
    if pooled {
        labels.push(OTHER.to_string());
    }
    let mut b = vec![0u64; labels.len()];
    for (k, n) in base {
        match index.get(k) {
            Some(&i) => b[i] += n,
            None if pooled => b[other] += n,
            None => {}
        }
    }
    let mut c = vec![0u64; labels.len()];
    let mut new: Vec<(&String, &u64)> = Vec::new();
    for (k, n) in cur {
        match index.get(k) {
            Some(&i) => c[i] += n,
            None if base.get(k).is_some_and(|x| *x > 0) => c[other] += n,
            None if *n > 0 => new.push((k, n)),
            None => {}
        }
    }
    new.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    for (k, n) in new {
        labels.push(k.clone());
        b.push(0);
        c.push(*n);
    }
    CategoryBins {
        labels,
        base: b,
        cur: c,
    }
}

/// Every statistic of one (cohort, field) from its bin counts.
#[derive(Clone, Debug, PartialEq)]
pub struct DriftResult {
    pub n_base: u64,
    pub n_cur: u64,
    pub psi: f64,
    pub js: f64,
    pub chi2: Option<ChiSquared>,
    pub verdict: Verdict,
}

pub fn evaluate(base: &[u64], cur: &[u64]) -> DriftResult {
    let (n_base, n_cur) = (base.iter().sum(), cur.iter().sum());
    let (p, q) = (shares(base), shares(cur));
    let (psi, js) = if n_base > 0 && n_cur > 0 {
        (psi(&p, &q), js_distance(&p, &q))
    } else {
        (f64::NAN, f64::NAN)
    };
    let chi2 = chi2_homogeneity(base, cur);
    DriftResult {
        n_base,
        n_cur,
        psi,
        js,
        chi2,
        verdict: verdict(n_base, n_cur, psi, js, chi2.map(|c| c.p)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    use crate::stats::reference::{close, values as reference};

    fn u64s(v: &Value) -> Vec<u64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect()
    }

    fn hist(v: &Value) -> Vec<(i64, u64)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let b = p[0].as_i64().unwrap_or(ZERO_BUCKET);
                (b, p[1].as_u64().unwrap())
            })
            .collect()
    }

    // tests/reference/scipy_stats.py: numpy PSI, scipy jensenshannon(base=2)
    // and chi2_contingency(correction=False)
    #[test]
    fn psi_js_chi2_match_scipy() {
        for case in reference()["drift"].as_array().unwrap() {
            let (a, b) = (u64s(&case["base"]), u64s(&case["cur"]));
            let r = evaluate(&a, &b);
            close(r.psi, case["psi"].as_f64().unwrap(), "psi");
            close(r.js, case["js"].as_f64().unwrap(), "js");
            let c = r.chi2.unwrap();
            close(c.statistic, case["chi2"].as_f64().unwrap(), "chi2");
            assert_eq!(c.df, case["df"].as_u64().unwrap());
            close(c.p, case["p"].as_f64().unwrap(), "chi2 p");
            // symmetric, bounded
            let (p, q) = (shares(&a), shares(&b));
            close(js_distance(&q, &p), r.js, "js symmetric");
            assert!((0.0..=1.0).contains(&r.js) && r.psi >= 0.0);
        }
    }

    // numpy: deciles of the baseline ordinals, np.unique, searchsorted(side="left")
    #[test]
    fn numeric_bins_match_numpy() {
        for case in reference()["bins"].as_array().unwrap() {
            let (base, cur) = (hist(&case["base"]), hist(&case["cur"]));
            let edges = decile_edges(&base);
            let want: Vec<f64> = case["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            assert_eq!(edges.len(), want.len(), "{edges:?} vs {want:?}");
            for (e, w) in edges.iter().zip(&want) {
                close(*e, *w, "edge");
            }
            let (nb, nc) = (bin_counts(&edges, &base), bin_counts(&edges, &cur));
            assert_eq!(nb, u64s(&case["n_base"]));
            assert_eq!(nc, u64s(&case["n_cur"]));
            let r = evaluate(&nb, &nc);
            close(r.psi, case["psi"].as_f64().unwrap(), "psi");
            close(r.js, case["js"].as_f64().unwrap(), "js");
            close(r.chi2.unwrap().p, case["p"].as_f64().unwrap(), "p");
        }
    }

    #[test]
    fn categories_top_other_and_new() {
        let m = |v: &[(&str, u64)]| -> BTreeMap<String, u64> {
            v.iter().map(|(k, n)| (k.to_string(), *n)).collect()
        };
        let mut base: Vec<(String, u64)> = (0..22).map(|i| (format!("c{i:02}"), 100 - i)).collect();
        base.push(("tail".into(), 1));
        let base: BTreeMap<String, u64> = base.into_iter().collect();
        let cur = m(&[
            ("c00", 5),
            ("c21", 7),
            ("tail", 2),
            ("brand-new", 9),
            ("also-new", 9),
        ]);
        let bins = category_bins(&base, &cur);
        assert_eq!(bins.labels.len(), 20 + 1 + 2);
        assert_eq!(bins.labels[0], "c00");
        assert_eq!(bins.labels[20], OTHER);
        // c20 (80), c21 (79), tail (1) pooled
        assert_eq!(bins.base[20], 80 + 79 + 1);
        assert_eq!(bins.cur[20], 7 + 2);
        // new categories by count, then name
        assert_eq!(
            &bins.labels[21..],
            &["also-new".to_string(), "brand-new".into()]
        );
        assert_eq!(&bins.base[21..], &[0, 0]);
        assert_eq!(bins.cur[0], 5);
        // no pooling below 20 categories
        let small = category_bins(&m(&[("a", 3), ("b", 1)]), &m(&[("a", 1)]));
        assert_eq!(small.labels, vec!["a".to_string(), "b".into()]);
        assert_eq!(small.cur, vec![1, 0]);
    }

    #[test]
    fn verdict_rules() {
        assert_eq!(verdict(99, 500, 1.0, 0.5, Some(0.0)), Verdict::Insufficient);
        assert_eq!(verdict(500, 500, 0.3, 0.05, Some(0.001)), Verdict::Drift);
        assert_eq!(verdict(500, 500, 0.05, 0.12, Some(0.001)), Verdict::Drift);
        assert_eq!(verdict(500, 500, 0.3, 0.2, Some(0.02)), Verdict::Stable);
        assert_eq!(
            verdict(500, 500, 0.15, 0.05, Some(0.001)),
            Verdict::Moderate
        );
        assert_eq!(verdict(500, 500, 0.05, 0.05, Some(0.001)), Verdict::Stable);
        assert_eq!(verdict(500, 500, 0.5, 0.5, None), Verdict::Stable);
    }
}
