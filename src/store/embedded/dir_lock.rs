//! The embedded store's directory lock: one process at a time.
//!
//! An advisory exclusive lock (`flock`) on `<dir>/lock`, taken without
//! waiting. The kernel drops it when the file is closed or the process dies,
//! so a crash never leaves a stale lock behind; the pid written into the
//! file only makes the refusal say who holds it.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::store::StoreError;

const LOCK_FILE: &str = "lock";

/// Holds the lock while alive.
#[derive(Debug)]
pub(super) struct DirLock {
    _file: File,
}

impl DirLock {
    /// Take the lock on `dir`, or refuse with [`StoreError::Locked`].
    pub(super) fn acquire(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join(LOCK_FILE);
        let mut file = super::private_file().read(true).write(true).create(true).truncate(false).open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut pid = String::new();
                // Best effort: the message is only more helpful with it.
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                let holder = if pid.is_empty() { String::new() } else { format!(" (pid {pid})") };
                return Err(StoreError::Locked { dir: dir.display().to_string(), holder });
            }
            Err(TryLockError::Error(e)) => return Err(e.into()),
        }
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        writeln!(file, "{}", std::process::id())?;
        Ok(Self { _file: file })
    }
}
