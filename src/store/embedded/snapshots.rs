//! Snapshots beside the logs: `<dir>/snapshots/<forum>.snap`.
//!
//! A snapshot file is framed as `u64 LE seq | u32 LE crc32(seq ++ payload) |
//! payload` (the same checksum as a log record) and replaced atomically:
//! write a temporary file, fsync, rename, fsync the directory. A snapshot that
//! is short or fails its checksum is ignored with a warning, since the log
//! alone can always rebuild the forum.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::framing::checksum;
use super::{EmbeddedStore, blocking, create_private_dir_all, private_file, sync_dir};
use crate::store::{Snapshot, SnapshotStore, StoreError, validate_forum_id};

pub(super) const SNAPSHOT_DIR: &str = "snapshots";
pub(super) const SNAPSHOT_EXT: &str = "snap";

#[async_trait::async_trait]
impl SnapshotStore for EmbeddedStore {
    async fn save_snapshot(&self, forum: &str, snapshot: &Snapshot) -> Result<(), StoreError> {
        validate_forum_id(forum)?;
        self.check_open()?;
        let dir = self.inner.dir.join(SNAPSHOT_DIR);
        let path = dir.join(format!("{forum}.{SNAPSHOT_EXT}"));
        let snapshot = snapshot.clone();
        blocking(move || write_snapshot(&dir, &path, &snapshot).map_err(StoreError::Io)).await
    }

    async fn load_snapshot(&self, forum: &str) -> Result<Option<Snapshot>, StoreError> {
        validate_forum_id(forum)?;
        self.check_open()?;
        let path = snapshot_path(&self.inner.dir, forum);
        let forum = forum.to_owned();
        blocking(move || read_snapshot(&forum, &path)).await
    }
}

/// Where the snapshot of `forum` lives in the store at `dir`.
pub(super) fn snapshot_path(dir: &Path, forum: &str) -> PathBuf {
    dir.join(SNAPSHOT_DIR).join(format!("{forum}.{SNAPSHOT_EXT}"))
}

fn write_snapshot(dir: &Path, path: &Path, snapshot: &Snapshot) -> io::Result<()> {
    create_private_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    let mut file = private_file().write(true).create(true).truncate(true).open(&tmp)?;
    file.write_all(&snapshot.seq.to_le_bytes())?;
    file.write_all(&checksum(snapshot.seq, &snapshot.payload).to_le_bytes())?;
    file.write_all(&snapshot.payload)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path)?;
    sync_dir(dir)
}

/// A snapshot that fails its checksum is ignored with a warning: the log
/// alone can always rebuild the forum.
fn read_snapshot(forum: &str, path: &Path) -> Result<Option<Snapshot>, StoreError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let (Some(seq), Some(crc)) = (bytes.get(0..8), bytes.get(8..12)) else {
        tracing::warn!(forum, path = %path.display(), "ignoring a truncated snapshot");
        return Ok(None);
    };
    let seq = u64::from_le_bytes(seq.try_into().unwrap_or_default());
    let crc = u32::from_le_bytes(crc.try_into().unwrap_or_default());
    let payload = &bytes[12..];
    if checksum(seq, payload) != crc {
        tracing::warn!(forum, path = %path.display(), "ignoring a snapshot that fails its checksum");
        return Ok(None);
    }
    Ok(Some(Snapshot { seq, payload: Bytes::copy_from_slice(payload) }))
}
