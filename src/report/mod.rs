//! Renderers: they only format data computed elsewhere.

pub mod format;
pub mod summary;
