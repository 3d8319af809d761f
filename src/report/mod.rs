//! Renderers: they only format data computed elsewhere.

pub mod chart;
pub mod fit;
pub mod format;
pub mod model;
pub mod render;
pub mod summary;
