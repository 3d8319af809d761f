//! Hypothesis tests of the regression comparison (docs/statistics.md
//! "Regression comparison"). Every test here is one-sided: "is arm 1
//! greater than arm 2"; callers put the arm that would be worse first.
//! Distribution functions come from statrs (erfc, the regularized upper
//! incomplete gamma, ln of binomial coefficients).

use statrs::function::erf::erfc;
use statrs::function::factorial::ln_binomial;
use statrs::function::gamma::gamma_ur;

use super::rates::{wilson, Z95};

/// P(Z > z) for a standard normal Z.
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// P(X > x) for X ~ chi-squared with `df` degrees of freedom.
pub fn chi2_sf(x: f64, df: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    gamma_ur(df / 2.0, x / 2.0)
}

/// Which test produced a rate comparison's p.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateTest {
    /// two-proportion z-test, pooled variance
    Z,
    /// Fisher's exact test (an expected cell < 5)
    Fisher,
}

impl RateTest {
    pub fn as_str(self) -> &'static str {
        match self {
            RateTest::Z => "z-test",
            RateTest::Fisher => "fisher",
        }
    }
}

/// Two-proportion z statistic (pooled) for H1: k1/n1 > k2/n2, and its
/// one-sided p (= statsmodels `proportions_ztest(alternative="larger")`).
/// None when an arm is empty; p = 1 when the pooled rate is 0 or 1.
pub fn two_prop_z(k1: u64, n1: u64, k2: u64, n2: u64) -> Option<(f64, f64)> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (a, b) = (n1 as f64, n2 as f64);
    let (p1, p2) = (k1 as f64 / a, k2 as f64 / b);
    let pool = (k1 + k2) as f64 / (a + b);
    let se = (pool * (1.0 - pool) * (1.0 / a + 1.0 / b)).sqrt();
    if se == 0.0 {
        return Some((0.0, 1.0));
    }
    let z = (p1 - p2) / se;
    Some((z, normal_sf(z)))
}

/// Fisher's exact test, one-sided toward arm 1 having the higher rate:
/// P(X >= k1) for X hypergeometric with the table's margins
/// (= `scipy.stats.fisher_exact([[k1, n1-k1], [k2, n2-k2]], alternative="greater")`).
pub fn fisher_greater(k1: u64, n1: u64, k2: u64, n2: u64) -> f64 {
    let (total, events) = (n1 + n2, k1 + k2);
    if k1 == 0 {
        return 1.0;
    }
    let lo = k1;
    let hi = events.min(n1);
    let denom = ln_binomial(total, n1);
    let mut p = 0.0;
    for x in lo..=hi {
        p += (ln_binomial(events, x) + ln_binomial(total - events, n1 - x) - denom).exp();
    }
    p.min(1.0)
}

/// The rate test of docs/statistics.md: the pooled z-test, or Fisher's exact
/// test when any expected cell of the 2 x 2 table is below 5. One-sided,
/// H1: arm 1's rate is higher. None when an arm is empty.
pub fn rate_greater(k1: u64, n1: u64, k2: u64, n2: u64) -> Option<(f64, RateTest)> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let n = (n1 + n2) as f64;
    let events = (k1 + k2) as f64;
    let min_expected = [n1 as f64, n2 as f64]
        .iter()
        .flat_map(|row| [row * events / n, row * (n - events) / n])
        .fold(f64::INFINITY, f64::min);
    if min_expected < 5.0 {
        Some((fisher_greater(k1, n1, k2, n2), RateTest::Fisher))
    } else {
        two_prop_z(k1, n1, k2, n2).map(|(_, p)| (p, RateTest::Z))
    }
}

/// Newcombe's hybrid score interval (95%) for p1 - p2, from the Wilson
/// intervals of each arm (= statsmodels
/// `confint_proportions_2indep(method="newcomb", compare="diff")`).
pub fn newcombe_diff(k1: u64, n1: u64, k2: u64, n2: u64) -> Option<(f64, f64)> {
    let (l1, u1) = wilson(k1, n1, Z95)?;
    let (l2, u2) = wilson(k2, n2, Z95)?;
    let (p1, p2) = (k1 as f64 / n1 as f64, k2 as f64 / n2 as f64);
    let d = p1 - p2;
    Some((
        d - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt(),
        d + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt(),
    ))
}

/// Mann-Whitney U of sample 1 and its one-sided p for H1: sample 1 is
/// stochastically greater; normal approximation with tie and continuity
/// correction (= `scipy.stats.mannwhitneyu(x, y, alternative="greater",
/// method="asymptotic")`). Samples are (value, count) histograms.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MannWhitney {
    pub u: f64,
    pub z: f64,
    pub p: f64,
}

pub fn mann_whitney_greater(x: &[(f64, u64)], y: &[(f64, u64)]) -> Option<MannWhitney> {
    let n1: u64 = x.iter().map(|p| p.1).sum();
    let n2: u64 = y.iter().map(|p| p.1).sum();
    if n1 == 0 || n2 == 0 {
        return None;
    }
    // (value, count in x, count in y), by value
    let mut all: Vec<(f64, u64, u64)> = x
        .iter()
        .filter(|p| p.1 > 0 && !p.0.is_nan())
        .map(|p| (p.0, p.1, 0))
        .chain(
            y.iter()
                .filter(|p| p.1 > 0 && !p.0.is_nan())
                .map(|p| (p.0, 0, p.1)),
        )
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut r1, mut below, mut ties) = (0.0f64, 0u64, 0.0f64);
    let mut i = 0;
    while i < all.len() {
        let (v, mut cx, mut cy) = all[i];
        let mut j = i + 1;
        while j < all.len() && all[j].0 == v {
            cx += all[j].1;
            cy += all[j].2;
            j += 1;
        }
        let t = cx + cy;
        // ranks below+1 ..= below+t share their average
        let avg = below as f64 + (t as f64 + 1.0) / 2.0;
        r1 += cx as f64 * avg;
        let tf = t as f64;
        ties += tf * tf * tf - tf;
        below += t;
        i = j;
    }
    let (a, b) = (n1 as f64, n2 as f64);
    let n = a + b;
    let u = r1 - a * (a + 1.0) / 2.0;
    let mu = a * b / 2.0;
    let s = (a * b / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)))).sqrt();
    if s.is_nan() || s <= 0.0 {
        // every value tied: no evidence either way
        return Some(MannWhitney { u, z: 0.0, p: 1.0 });
    }
    let z = (u - mu - 0.5) / s;
    Some(MannWhitney {
        u,
        z,
        p: normal_sf(z),
    })
}

/// Holm's step-down adjustment (= statsmodels `multipletests(method="holm")`).
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    let mut out = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        let adj = ((m - rank) as f64 * p[i]).min(1.0);
        running = running.max(adj);
        out[i] = running;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    use crate::stats::reference::{close, values as reference};

    // tests/reference/scipy_stats.py: statsmodels proportions_ztest, scipy
    // fisher_exact, statsmodels confint_proportions_2indep(method="newcomb")
    #[test]
    fn rate_tests_match_statsmodels_and_scipy() {
        for c in reference()["rates"].as_array().unwrap() {
            let g = |k: &str| c[k].as_u64().unwrap();
            let (k1, n1, k2, n2) = (g("k1"), g("n1"), g("k2"), g("n2"));
            let (z, p) = two_prop_z(k1, n1, k2, n2).unwrap();
            close(z, c["z"].as_f64().unwrap(), "z");
            close(p, c["p_z"].as_f64().unwrap(), "z p");
            close(
                fisher_greater(k1, n1, k2, n2),
                c["p_fisher"].as_f64().unwrap(),
                "fisher p",
            );
            let (lo, hi) = newcombe_diff(k1, n1, k2, n2).unwrap();
            close(lo, c["newcombe"][0].as_f64().unwrap(), "newcombe low");
            close(hi, c["newcombe"][1].as_f64().unwrap(), "newcombe high");
        }
        // expected cells: 5/40 vs 1/45 -> Fisher; 120/1000 vs 95/1000 -> z
        assert_eq!(rate_greater(5, 40, 1, 45).unwrap().1, RateTest::Fisher);
        assert_eq!(rate_greater(120, 1000, 95, 1000).unwrap().1, RateTest::Z);
        assert_eq!(rate_greater(1, 0, 1, 5), None);
    }

    // scipy mannwhitneyu(x, y, alternative="greater", method="asymptotic")
    #[test]
    fn mann_whitney_matches_scipy() {
        let pairs = |v: &Value| -> Vec<(f64, u64)> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_f64().unwrap(), p[1].as_u64().unwrap()))
                .collect()
        };
        for c in reference()["mwu"].as_array().unwrap() {
            let r = mann_whitney_greater(&pairs(&c["x"]), &pairs(&c["y"])).unwrap();
            close(r.u, c["u"].as_f64().unwrap(), "U");
            close(r.p, c["p"].as_f64().unwrap(), "p");
        }
    }

    // statsmodels multipletests(method="holm")
    #[test]
    fn holm_matches_statsmodels() {
        for c in reference()["holm"].as_array().unwrap() {
            let p: Vec<f64> = c["p"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            for (a, b) in holm(&p).iter().zip(c["adj"].as_array().unwrap()) {
                close(*a, b.as_f64().unwrap(), "holm");
            }
        }
    }

    #[test]
    fn distribution_tails() {
        // scipy.stats.norm.sf(1.959963984540054) = 0.025; chi2.sf(3.841458820694124, 1) = 0.05
        close(normal_sf(1.959963984540054), 0.025, "normal sf");
        close(chi2_sf(3.841458820694124, 1.0), 0.05, "chi2 sf");
    }
}
