//! The canonical span vocabulary, shared by the readers (`ingest/`) and the
//! tables (`frame/`): the row a reader makes of each span (`row.rs`), the
//! column names and types of the `spans` and `evals` tables (`schema.rs`,
//! the only place a column is spelt), and rows to polars frames and back,
//! with the canonical types every source ends with (`build.rs`).

pub mod build;
pub mod row;
pub mod schema;
