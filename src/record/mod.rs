//! Records: CSV and JSON files a pandas user can load, and the one writer every file goes
//! through ([`writer`]: atomic, into checked output folders). Records are the only writers;
//! figures and reports are rendered from records and handed to the writer.

pub mod compare;
pub mod lm;
pub mod map;
pub mod sweep;
pub mod train;
pub mod tune;
pub mod writer;

pub use compare::trajectories_csv;
pub use writer::{write_atomic, write_with, OutDir, Streamed};

use anyhow::{Context, Result};
use serde::Serialize;
use std::path::Path;

/// Pretty JSON, written atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let s = serde_json::to_string_pretty(value).context("serialising JSON")?;
    write_atomic(path, s.as_bytes())
}

/// Quotes a CSV field when it needs it (labels contain commas: `adam(lr=0.1, ...)`).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
