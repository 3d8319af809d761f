//! Pure numeric kernels on plain slices and counts; no polars types.
//! Each function cites the formula of spec/statistics.md it implements and
//! is tested against reference values produced by DuckDB, numpy, scipy or
//! statsmodels (the script that produced them is kept beside the values).

pub mod bootstrap;
pub mod burn;
pub mod drift;
pub mod hypothesis;
pub mod quantile;
pub mod rates;
