//! Anomaly scores (statistics.md "Anomalies"): the robust z of
//! Iglewicz-Hoaglin with its MAD = 0 fallbacks, the binomial tail of the
//! error-burst test, and the total variation distance of the model mix.

use statrs::function::beta::beta_reg;

/// |z| above this is an outlier (Iglewicz-Hoaglin).
pub const Z_THRESHOLD: f64 = 3.5;
/// z = MAD_Z (x - median) / MAD
pub const MAD_Z: f64 = 0.6745;
/// MAD = 0: z = (x - median) / (MEAN_DEV_Z mean |x - median|)
pub const MEAN_DEV_Z: f64 = 1.253314;

/// How a robust z is scaled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    /// MAD_Z (x - median) / MAD
    Mad(f64),
    /// MAD = 0: (x - median) / (MEAN_DEV_Z mean |x - median|)
    MeanAbsDev(f64),
    /// every value equals the median but some: those are flagged (z = ±inf)
    None,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Robust {
    pub median: f64,
    pub scale: Scale,
}

fn median_of(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Median and scale of `values` (NaN ignored); None when empty.
pub fn robust(values: &[f64]) -> Option<Robust> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    let median = median_of(&mut v);
    let mut dev: Vec<f64> = v.iter().map(|x| (x - median).abs()).collect();
    let mean_dev = dev.iter().sum::<f64>() / dev.len() as f64;
    let mad = median_of(&mut dev);
    Some(Robust::from_parts(median, mad, mean_dev))
}

impl Robust {
    /// From a median, the MAD and the mean absolute deviation from the
    /// median computed elsewhere (an engine's aggregates).
    pub fn from_parts(median: f64, mad: f64, mean_dev: f64) -> Robust {
        let scale = if mad > 0.0 {
            Scale::Mad(mad)
        } else if mean_dev > 0.0 {
            Scale::MeanAbsDev(mean_dev)
        } else {
            Scale::None
        };
        Robust { median, scale }
    }

    pub fn z(&self, x: f64) -> f64 {
        let d = x - self.median;
        match self.scale {
            Scale::Mad(mad) => MAD_Z * d / mad,
            Scale::MeanAbsDev(m) => d / (MEAN_DEV_Z * m),
            Scale::None if d == 0.0 => 0.0,
            Scale::None => d.signum() * f64::INFINITY,
        }
    }
}

/// P(X >= k) for X ~ Binomial(n, p) (= `scipy.stats.binom.sf(k - 1, n, p)`).
pub fn binomial_tail(k: u64, n: u64, p: f64) -> f64 {
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
    // P(X >= k) = I_p(k, n - k + 1)
    beta_reg(k as f64, (n - k + 1) as f64, p)
}

/// Total variation distance between two distributions given as shares.
pub fn total_variation(p: &[f64], q: &[f64]) -> f64 {
    0.5 * p.iter().zip(q).map(|(a, b)| (a - b).abs()).sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::reference::{close, values as reference};

    fn f64s(v: &serde_json::Value) -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    }

    // tests/reference/scipy_stats.py: numpy median, scipy median_abs_deviation
    #[test]
    fn robust_z_matches_scipy() {
        for c in reference()["robust"].as_array().unwrap() {
            let x = f64s(&c["x"]);
            let r = robust(&x).unwrap();
            close(r.median, c["median"].as_f64().unwrap(), "median");
            let mad = c["mad"].as_f64().unwrap();
            match r.scale {
                Scale::Mad(m) => close(m, mad, "MAD"),
                other => assert_eq!(mad, 0.0, "{other:?}"),
            }
            for (xi, zi) in x.iter().zip(f64s(&c["z"])) {
                let z = r.z(*xi);
                assert!(
                    (z - zi).abs() <= 1e-9 * zi.abs().max(1e-12),
                    "z({xi}) {z} vs {zi}"
                );
            }
        }
        // all equal but one: only that one is flagged
        let r = robust(&[3.0, 3.0, 3.0, 3.0]).unwrap();
        assert_eq!(r.scale, Scale::None);
        assert_eq!(r.z(3.0), 0.0);
        assert_eq!(r.z(4.0), f64::INFINITY);
        assert_eq!(robust(&[]), None);
    }

    // by hand: an engine's median, MAD and mean deviation give the same z
    #[test]
    fn robust_from_an_engines_aggregates() {
        // median 2; deviations 0 0 0 1 9: MAD 0, mean deviation 2
        let r = robust(&[2.0, 2.0, 2.0, 3.0, 11.0]).unwrap();
        assert_eq!(r, Robust::from_parts(2.0, 0.0, 2.0));
        assert_eq!(r.scale, Scale::MeanAbsDev(2.0));
        // z(11) = 9 / (1.253314 * 2)
        assert!((r.z(11.0) - 9.0 / 2.506628).abs() < 1e-12);
        assert_eq!(Robust::from_parts(1.0, 0.5, 0.7).scale, Scale::Mad(0.5));
        assert_eq!(Robust::from_parts(1.0, 0.0, 0.0).scale, Scale::None);
    }

    // scipy.stats.binom.sf(k - 1, n, p)
    #[test]
    fn binomial_tail_matches_scipy() {
        for c in reference()["binomial_tail"].as_array().unwrap() {
            let (k, n, p) = (
                c["k"].as_u64().unwrap(),
                c["n"].as_u64().unwrap(),
                c["p"].as_f64().unwrap(),
            );
            close(
                binomial_tail(k, n, p),
                c["sf"].as_f64().unwrap(),
                "binomial tail",
            );
        }
        close(
            total_variation(&[0.5, 0.5, 0.0], &[0.2, 0.5, 0.3]),
            0.3,
            "total variation",
        );
    }
}
