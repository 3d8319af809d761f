//! One integration binary. A file per command (slo, cost, drift, compare,
//! anomalies, report, query; ingest, inspect and prices in cli), and files
//! per concern that cut across them: bad inputs, hostile values, faults,
//! honesty (what cannot be judged), scale and the engines, Spark,
//! properties, the fuzz corpus, the fixtures and the real exports, the
//! calibration of the findings, and the docs written from the code.

mod anomalies;
mod bad_inputs;
mod calibration;
mod cli;
mod common;
mod compare;
mod cost;
mod docs;
mod drift;
mod faults;
mod fixtures;
mod fuzz_corpus;
mod honest;
mod hostile;
mod properties;
mod query;
mod real_exports;
mod report;
mod scale;
mod schema;
mod slo;
#[cfg(feature = "spark")]
mod spark;
mod totality;
