//! Reading exports: detect each file's format, parse in parallel, resolve
//! attribute aliases into canonical rows (docs/span-table.md, docs/aliases.md).

pub mod aliases;
pub mod chunk;
pub mod flat;
pub mod json;
pub mod otlp;
pub mod pages;
pub mod parquet;
pub mod resolve;
pub mod scan;
pub mod source;
pub mod stats;
pub mod time;
