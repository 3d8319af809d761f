//! Anomaly scores: the binomial tail of the error-burst test and the total
//! variation distance of the model mix (the tail rules use Fisher's exact
//! test from `hypothesis`).

use statrs::function::beta::beta_reg;

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
