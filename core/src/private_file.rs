//! Owner-only files: the one place that creates a file with mode 0600.
//!
//! Secrets at rest (the phone's software keystore, the server's key file and
//! integrator token) and the SQLite databases (whose `-wal` and `-shm` files take
//! the database's mode) are all created here, so a file that must be its owner's
//! alone is never, even for an instant, readable by the group or others
//! (docs/DESIGN.md §3).
//!
//! Invariants: a file written by [`write_new`] appears whole or not at all (the
//! bytes go to a synced temporary file in the same folder that is then linked into
//! place), and an existing file is never replaced (the link fails with
//! [`std::io::ErrorKind::AlreadyExists`], so a racing second writer learns that the
//! first one won). On platforms without Unix modes the files get the platform's
//! default access.

use crate::encoding::encode_hex;
use ring::rand::{SecureRandom, SystemRandom};
use std::io::Write;
use std::path::Path;

/// Options that create a new file, owner-only on Unix, failing if it exists.
fn new_file_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Creates `path` with `contents`, mode 0600, atomically and without overwriting:
/// an existing `path` is an [`std::io::ErrorKind::AlreadyExists`] error and is left
/// as it was. The folder entry is synced, so the file survives a crash once this
/// returns.
pub fn write_new(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut suffix = [0u8; 8];
    SystemRandom::new()
        .fill(&mut suffix)
        .map_err(|_| std::io::Error::other("no randomness for a temporary file name"))?;
    let temporary = folder.join(format!(".tmp-{}", encode_hex(&suffix)));
    let written = (|| {
        let mut file = new_file_options().open(&temporary)?;
        file.write_all(contents)?;
        file.sync_all()
    })();
    let linked = written.and_then(|()| std::fs::hard_link(&temporary, path));
    let _ = std::fs::remove_file(&temporary);
    linked?;
    sync_folder(folder)
}

/// Creates `path` empty and owner-only if it does not exist; an existing file is
/// left as it is (whatever its mode: callers that care check it). Used before
/// SQLite opens a database, so that SQLite never creates it (or its `-wal` and
/// `-shm` files, which copy its mode) readable by others.
pub fn create_if_missing(path: &Path) -> std::io::Result<()> {
    match new_file_options().open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

/// Makes a new or removed entry of `folder` durable (a no-op where folders cannot
/// be opened and synced).
pub fn sync_folder(folder: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(folder)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = folder;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_file_is_owner_only_whole_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        write_new(&path, b"first").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);

        let again = write_new(&path, b"second").unwrap_err();
        assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        // No temporary file is left behind, on success or on refusal.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("secret")]);
    }

    #[test]
    fn an_empty_private_file_is_created_once_and_an_existing_one_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        create_if_missing(&path).unwrap();
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
        std::fs::write(&path, b"data").unwrap();
        create_if_missing(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"data");
    }

    #[test]
    fn a_file_in_a_missing_folder_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("secret");
        assert_eq!(
            write_new(&path, b"x").unwrap_err().kind(),
            std::io::ErrorKind::NotFound
        );
        assert!(create_if_missing(&path).is_err());
    }
}
