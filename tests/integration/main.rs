//! One integration binary: the library's load path against hand-checked
//! fixtures and the real exports, and the real CLI against bad inputs.

mod cli;
mod common;
mod fixtures;
mod real_exports;
mod reports;
