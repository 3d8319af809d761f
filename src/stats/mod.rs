//! Pure numeric kernels on plain slices and counts; no polars types.
//! Each function cites the formula of docs/statistics.md it implements and
//! is tested against reference values produced by DuckDB, numpy, scipy or
//! statsmodels (the script that produced them is kept beside the values).

pub mod anomaly;
pub mod bootstrap;
pub mod burn;
pub mod drift;
pub mod hypothesis;
pub mod quantile;
pub mod rates;

/// The scipy/statsmodels/numpy reference values of the kernel tests
/// (tests/reference/scipy_stats.py) and the comparison they use.
#[cfg(test)]
pub(crate) mod reference {
    pub fn values() -> serde_json::Value {
        serde_json::from_str(include_str!("../../tests/reference/stats_kernels.json")).unwrap()
    }

    /// Equal to 1e-9 relative (docs/statistics.md's tolerance for scipy values).
    pub fn close(a: f64, b: f64, what: &str) {
        assert!(
            (a - b).abs() <= 1e-9 * b.abs().max(1e-300),
            "{what}: {a} vs reference {b}"
        );
    }
}
