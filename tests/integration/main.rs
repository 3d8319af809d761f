//! One integration binary: the library's load path against hand-checked
//! fixtures and the real exports, and the real CLI against bad inputs.

mod anomalies;
mod bad_inputs;
mod calibration;
mod cli;
mod common;
mod docs;
mod drift_compare;
mod faults;
mod fixtures;
mod fuzz_corpus;
mod honest;
mod hostile;
mod nightly;
mod properties;
mod real_exports;
mod reports;
mod scale;
#[cfg(feature = "spark")]
mod spark;
mod totality;
