//! A scratch folder for one [`crate::World`]: made fresh under the system's
//! temporary folder (owner-only on Unix), removed with everything in it when
//! dropped. The journeys' own helper, so the crate (a normal dependency of
//! the CLI for `latchkey demo`) needs no test-only crate
//! (ARCHITECTURE.md "Test support").
//!
//! Invariant: a new folder is always a folder this process created (never one
//! that existed before), so dropping it removes nothing else.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A folder that is deleted, with its contents, when dropped.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Makes a new, empty folder named `latchkey-journeys-…` under the system's
    /// temporary folder.
    pub fn new() -> std::io::Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let base = std::env::temp_dir();
        let mut last_error = None;
        for _ in 0..16 {
            // A per-process random key (std's hash seed), the process id and a
            // counter: unique across processes and within one.
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
            let name = format!(
                "latchkey-journeys-{}-{:016x}",
                std::process::id(),
                hasher.finish()
            );
            let path = base.join(name);
            let mut builder = std::fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            // `create`, not `create_all`: an existing folder is an error, so
            // the folder is ours.
            match builder.create(&path) {
                Ok(()) => return Ok(Self { path }),
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    last_error = Some(error);
                }
                Err(error) => return Err(error),
            }
        }
        Err(last_error.unwrap_or_else(|| std::io::Error::other("no free scratch folder name")))
    }

    /// The folder's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // Best effort: a folder left behind in the temporary folder harms nothing.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_scratch_folders_differ_and_each_is_removed_with_its_contents() {
        let first = ScratchDir::new().unwrap();
        let second = ScratchDir::new().unwrap();
        assert_ne!(first.path(), second.path());
        std::fs::create_dir(first.path().join("phone")).unwrap();
        std::fs::write(first.path().join("phone/device.db"), b"x").unwrap();
        let path = first.path().to_path_buf();
        assert!(path.is_dir());
        drop(first);
        assert!(!path.exists());
        assert!(second.path().is_dir());
    }

    #[cfg(unix)]
    #[test]
    fn a_scratch_folder_is_the_owners_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = ScratchDir::new().unwrap();
        let mode = std::fs::metadata(dir.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
