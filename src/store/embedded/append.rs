//! The append path: one write and one fsync per batch.
//!
//! An append encodes the whole batch, issues a single write and a single
//! `sync_data` (fdatasync), and returns only after both succeeded: an
//! acknowledged record is on disk. Each append therefore costs one fsync;
//! callers amortize it by batching (group commit lives above the store). When
//! a forum's file is created, the `forums/` directory is fsynced too so that
//! the new file itself survives a crash. If the write or the sync fails, the
//! file is truncated back to where the batch began (best effort) so later
//! appends never follow a half-written record; if even that fails, the forum
//! refuses further appends until the store is reopened (and recovery runs).
//! After the sync one `fstat` checks that the file still has a name: records
//! synced into a file that was removed (by an operator, a cleanup job) would
//! be gone at the next start, so they are refused, and so is every later
//! append to that forum.

use std::fs::File;
use std::io::{self, Write};
use std::sync::atomic::Ordering;

use super::framing::{HEADER_LEN, encode_record};
use super::{ForumLog, Inner, closed_error, lock, private_file, sync_dir};
use crate::store::{Record, StoreError};

/// Append `records` to `log`, blocking; runs on tokio's blocking pool.
pub(super) fn append_blocking(inner: &Inner, log: &ForumLog, records: &[Record]) -> Result<(), StoreError> {
    let mut guard = lock(&log.file)?;
    let state = &mut *guard;
    // Re-checked under the lock: `close` takes the file after setting the flag.
    if inner.closed.load(Ordering::Acquire) {
        return Err(closed_error());
    }
    if let Some(why) = &state.poisoned {
        return Err(StoreError::Io(io::Error::other(format!("forum {} refuses appends: {why}", log.id))));
    }

    let head = log.head.load(Ordering::Acquire);
    for (i, r) in records.iter().enumerate() {
        let expected = head + 1 + i as u64;
        if r.seq != expected {
            return Err(StoreError::OutOfOrder { forum: log.id.clone(), expected, got: r.seq });
        }
    }

    let size = records.iter().map(|r| HEADER_LEN + r.payload.len()).sum();
    let mut buf = Vec::with_capacity(size);
    for r in records {
        encode_record(r.seq, &r.payload, &mut buf);
    }

    let file = match &mut state.file {
        Some(file) => file,
        slot @ None => {
            // create_new: a file we did not scan at open must not be appended to blindly.
            let file = private_file().read(true).append(true).create_new(true).open(&log.path)?;
            sync_dir(&inner.forums_dir)?;
            tracing::debug!(forum = %log.id, "created forum log");
            slot.insert(file)
        }
    };

    let start = log.len.load(Ordering::Acquire);
    if let Err(e) = file.write_all(&buf).and_then(|()| file.sync_data()) {
        // Leave no partial batch for later appends to follow.
        match file.set_len(start).and_then(|()| file.sync_all()) {
            Ok(()) => tracing::warn!(forum = %log.id, error = %e, "append failed; rolled back"),
            Err(e2) => {
                tracing::error!(forum = %log.id, error = %e, rollback_error = %e2, "append failed and could not be rolled back");
                state.poisoned = Some("its log is in an unknown state after a failed write; reopen the store".into());
            }
        }
        return Err(e.into());
    }
    // After the sync: a file removed before it holds nothing a restart will see.
    if !still_linked(file)? {
        tracing::error!(forum = %log.id, "forum log was removed while the server runs; refusing appends to it");
        // The bytes went to a file nobody can open again: nothing to roll back.
        state.poisoned = Some("its log file was removed while the server runs; restore it, then restart".into());
        return Err(StoreError::Io(io::Error::other(format!(
            "forum {} log file was removed while open; the records are not durable",
            log.id
        ))));
    }
    log.len.store(start + buf.len() as u64, Ordering::Release);
    log.head.store(head + records.len() as u64, Ordering::Release);
    Ok(())
}

/// Whether the open file still has a name: one `fstat`.
#[cfg(unix)]
fn still_linked(file: &File) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    Ok(file.metadata()?.nlink() > 0)
}

/// Open files cannot be removed on Windows.
#[cfg(not(unix))]
fn still_linked(_file: &File) -> io::Result<bool> {
    Ok(true)
}
