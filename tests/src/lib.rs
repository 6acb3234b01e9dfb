//! End-to-end journeys of Latchkey live in this crate's `tests/` folder; the
//! protocol's shared vectors live in `vectors/`. This library holds the helpers
//! those journeys share.
#![warn(missing_docs)]

/// The folder holding the shared vectors (`tests/vectors/*.json`).
pub fn vectors_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors")
}
