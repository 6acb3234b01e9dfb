//! latchkey-core's one integration-test binary: the OTP engine and the protocol
//! against the shared vectors in `tests/vectors/`, round trips, every verifier
//! check, and property tests that no input panics.

// Test helpers may unwrap: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod otp;
mod protocol;

/// Reads a vector file from `tests/vectors/`.
pub fn vectors(name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(vectors_path(name)).unwrap()).unwrap()
}

/// The path of a vector file.
pub fn vectors_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/vectors")
        .join(name)
}
