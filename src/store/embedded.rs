//! The embedded event store: one append-only log file per forum on local disk.
//!
//! This is the zero-dependency backend: a forum server on a single machine
//! needs nothing but a directory.
//!
//! # Layout
//!
//! `<dir>/forums/<forum-id>.log`, one file per forum, created by the first
//! append to that forum. Other files in `forums/` are ignored (and logged).
//! The directory must be used by one store at a time: nothing locks it.
//!
//! # Record framing
//!
//! A log is a plain concatenation of records, each framed as
//!
//! ```text
//! offset  size  field
//!      0     4  payload length, u32 little-endian (at most MAX_PAYLOAD)
//!      4     4  crc32 (crc32fast / IEEE) over (seq as 8 LE bytes ++ payload)
//!      8     8  seq, u64 little-endian
//!     16     n  payload
//! ```
//!
//! There is no file header and no padding. Seqs start at 1 and go up by one
//! per record. The checksum covers the seq so that a record cannot be
//! silently renumbered by damage.
//!
//! # Durability (fsync policy)
//!
//! [`EventStore::append`] encodes the whole batch, issues a single write and a
//! single `sync_data` (fdatasync), and returns only after both succeeded: an
//! acknowledged record is on disk. Each append therefore costs one fsync;
//! callers amortize it by batching (group commit lives above the store). When
//! a forum's file is created, the `forums/` directory is fsynced too so that
//! the new file itself survives a crash. If the write or the sync fails, the
//! file is truncated back to where the batch began (best effort) so later
//! appends never follow a half-written record; if even that fails, the forum
//! refuses further appends until the store is reopened (and recovery runs).
//!
//! # Recovery
//!
//! All logs are scanned when the store is opened (not lazily), so that
//! `forums()` and `head()` are exact and damage is reported at start-up rather
//! than in the middle of a deliberation. Every record is checked: sane length,
//! matching checksum, and seq = previous + 1. What happens at the first bad
//! record depends on what follows it:
//!
//! * nothing valid follows (the record is incomplete, or its checksum fails,
//!   and no plausible record lies after it): this is a **torn tail**, the
//!   normal result of a crash during an unacknowledged append. The file is
//!   truncated to the end of the last good record, fsynced, and a warning
//!   names the forum, the offset and the number of bytes dropped;
//! * a valid record follows, or more data follows than one record can hold,
//!   or a well-formed record carries the wrong seq: this is damage the store
//!   cannot explain, and `open` fails with [`StoreError::Corrupt`] without
//!   touching the file. An operator has to look.
//!
//! # Concurrency
//!
//! All file I/O runs on tokio's blocking pool. Per forum the store keeps the
//! open file, and the head seq and committed length in atomics, so `head()`
//! never waits for an fsync in progress. Appends to one forum are serialized
//! by a per-forum mutex that is only ever taken on the blocking pool; appends
//! to different forums proceed in parallel. `read_after` opens the file
//! separately and reads only up to the committed length, so it never sees a
//! batch that is still being written.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use super::{EventStore, Record, Snapshot, StoreError, validate_forum_id};

/// Size of the fixed part of a record on disk.
pub const HEADER_LEN: usize = 16;
/// Largest payload accepted by `append`; a larger length on disk is damage.
pub const MAX_PAYLOAD: usize = 16 * 1024 * 1024;

const LOG_EXT: &str = "log";
/// Snapshots live beside the logs: `<dir>/snapshots/<forum>.snap`, framed as
/// `u64 LE seq | u32 LE crc32(seq ++ payload) | payload`, replaced atomically
/// (write a temporary file, fsync, rename, fsync the directory).
const SNAPSHOT_DIR: &str = "snapshots";
const SNAPSHOT_EXT: &str = "snap";
const READ_BUF: usize = 64 * 1024;

/// See the module documentation.
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    forums_dir: PathBuf,
    forums: Mutex<HashMap<String, Arc<ForumLog>>>,
    closed: AtomicBool,
}

struct ForumLog {
    id: String,
    path: PathBuf,
    /// Last durable seq. Written only while `file` is locked.
    head: AtomicU64,
    /// Byte length of the durable records. Written only while `file` is
    /// locked, and always before `head` so that a reader who sees a head also
    /// sees the bytes behind it.
    len: AtomicU64,
    file: Mutex<FileState>,
}

struct FileState {
    /// `None` until the first append creates the file, and after `close`.
    file: Option<File>,
    /// A failed write could not be rolled back: the end of the file is unknown.
    poisoned: bool,
}

impl fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedStore").field("dir", &self.inner.dir).finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Open (creating if needed) the store in `dir`, scanning and recovering
    /// every forum log. Fails with [`StoreError::Corrupt`] if any log has
    /// damage other than a torn tail.
    pub async fn open(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let dir = dir.into();
        let (dir, forums_dir, forums) = blocking(move || {
            let forums_dir = dir.join("forums");
            let forums = open_dir(&dir, &forums_dir)?;
            Ok((dir, forums_dir, forums))
        })
        .await?;
        tracing::debug!(dir = %dir.display(), forums = forums.len(), "embedded store opened");
        Ok(Self {
            inner: Arc::new(Inner { dir, forums_dir, forums: Mutex::new(forums), closed: AtomicBool::new(false) }),
        })
    }

    /// The directory this store lives in.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    fn check_open(&self) -> Result<(), StoreError> {
        if self.inner.closed.load(Ordering::Acquire) { Err(closed_error()) } else { Ok(()) }
    }

    fn forum(&self, id: &str) -> Result<Option<Arc<ForumLog>>, StoreError> {
        Ok(lock(&self.inner.forums)?.get(id).cloned())
    }

    fn forum_or_insert(&self, id: &str) -> Result<Arc<ForumLog>, StoreError> {
        let mut forums = lock(&self.inner.forums)?;
        let log = forums.entry(id.to_owned()).or_insert_with(|| {
            Arc::new(ForumLog::new(id.to_owned(), log_path(&self.inner.forums_dir, id), None, 0, 0))
        });
        Ok(log.clone())
    }
}

#[async_trait::async_trait]
impl EventStore for EmbeddedStore {
    async fn forums(&self) -> Result<Vec<String>, StoreError> {
        self.check_open()?;
        let mut ids: Vec<String> = lock(&self.inner.forums)?
            .values()
            .filter(|f| f.head.load(Ordering::Acquire) > 0)
            .map(|f| f.id.clone())
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    async fn append(&self, forum: &str, records: &[Record]) -> Result<(), StoreError> {
        validate_forum_id(forum)?;
        self.check_open()?;
        if records.is_empty() {
            return Ok(());
        }
        if let Some(r) = records.iter().find(|r| r.payload.len() > MAX_PAYLOAD) {
            return Err(StoreError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "record {} in forum {forum} has a {} byte payload; the limit is {MAX_PAYLOAD}",
                    r.seq,
                    r.payload.len()
                ),
            )));
        }
        let log = self.forum_or_insert(forum)?;
        let inner = self.inner.clone();
        let records = records.to_vec(); // cheap: payloads are refcounted
        blocking(move || append_blocking(&inner, &log, &records)).await
    }

    async fn read_after(&self, forum: &str, after: u64) -> Result<Vec<Record>, StoreError> {
        validate_forum_id(forum)?;
        self.check_open()?;
        let Some(log) = self.forum(forum)? else {
            return Ok(Vec::new());
        };
        // head before len: see `ForumLog::len`.
        let head = log.head.load(Ordering::Acquire);
        let len = log.len.load(Ordering::Acquire);
        if after >= head {
            return Ok(Vec::new());
        }
        blocking(move || read_records(&log.path, &log.id, len, after)).await
    }

    async fn head(&self, forum: &str) -> Result<u64, StoreError> {
        validate_forum_id(forum)?;
        self.check_open()?;
        Ok(self.forum(forum)?.map_or(0, |f| f.head.load(Ordering::Acquire)))
    }

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
        let path = self.inner.dir.join(SNAPSHOT_DIR).join(format!("{forum}.{SNAPSHOT_EXT}"));
        let forum = forum.to_owned();
        blocking(move || read_snapshot(&forum, &path)).await
    }

    async fn close(&self) -> Result<(), StoreError> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let logs: Vec<Arc<ForumLog>> = lock(&self.inner.forums)?.values().cloned().collect();
        blocking(move || {
            // Appends already past the closed check finish first (they hold the lock).
            let mut first_err = None;
            for log in logs {
                let Some(file) = lock(&log.file)?.file.take() else {
                    continue;
                };
                if let Err(e) = file.sync_all() {
                    tracing::error!(forum = %log.id, error = %e, "sync on close failed");
                    first_err.get_or_insert(e);
                }
            }
            first_err.map_or(Ok(()), |e| Err(e.into()))
        })
        .await
    }
}

impl ForumLog {
    fn new(id: String, path: PathBuf, file: Option<File>, head: u64, len: u64) -> Self {
        Self {
            id,
            path,
            head: AtomicU64::new(head),
            len: AtomicU64::new(len),
            file: Mutex::new(FileState { file, poisoned: false }),
        }
    }
}

/// Run blocking work on tokio's blocking pool.
async fn blocking<T, F>(f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Io(io::Error::other(format!("store task failed: {e}"))))?
}

fn lock<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>, StoreError> {
    m.lock().map_err(|_| StoreError::Io(io::Error::other("store lock poisoned by an earlier panic")))
}

fn closed_error() -> StoreError {
    StoreError::Io(io::Error::other("event store is closed"))
}

fn log_path(forums_dir: &Path, id: &str) -> PathBuf {
    forums_dir.join(format!("{id}.{LOG_EXT}"))
}

/// Make directory entries (new files, truncations of the listing) durable.
fn snapshot_crc(seq: u64, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&seq.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

fn write_snapshot(dir: &Path, path: &Path, snapshot: &Snapshot) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp)?;
    file.write_all(&snapshot.seq.to_le_bytes())?;
    file.write_all(&snapshot_crc(snapshot.seq, &snapshot.payload).to_le_bytes())?;
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
    if snapshot_crc(seq, payload) != crc {
        tracing::warn!(forum, path = %path.display(), "ignoring a snapshot that fails its checksum");
        return Ok(None);
    }
    Ok(Some(Snapshot { seq, payload: Bytes::copy_from_slice(payload) }))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        // Directories cannot be opened as files here; NTFS journals metadata.
        let _ = dir;
        Ok(())
    }
}

/// Append one framed record to `buf`. The caller guarantees the size limit.
pub(crate) fn encode_record(seq: u64, payload: &[u8], buf: &mut Vec<u8>) {
    debug_assert!(payload.len() <= MAX_PAYLOAD);
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&frame_crc(seq, payload).to_le_bytes());
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(payload);
}

fn frame_crc(seq: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&seq.to_le_bytes());
    h.update(payload);
    h.finalize()
}

#[derive(Clone, Copy)]
struct Header {
    len: u64,
    crc: u32,
    seq: u64,
}

fn parse_header(b: &[u8]) -> Header {
    Header {
        len: u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        crc: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        seq: u64::from_le_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]),
    }
}

// ---------------------------------------------------------------- open/scan

fn open_dir(dir: &Path, forums_dir: &Path) -> Result<HashMap<String, Arc<ForumLog>>, StoreError> {
    fs::create_dir_all(forums_dir)?;
    // Cheap, and makes a freshly created layout itself durable.
    sync_dir(dir)?;
    sync_dir(forums_dir)?;

    let mut forums = HashMap::new();
    for entry in fs::read_dir(forums_dir)? {
        let entry = entry?;
        let path = entry.path();
        let id = match (path.file_stem().and_then(|s| s.to_str()), path.extension()) {
            (Some(stem), Some(ext)) if ext == LOG_EXT && validate_forum_id(stem).is_ok() => stem.to_owned(),
            _ => {
                tracing::warn!(path = %path.display(), "ignoring unexpected file in the forums directory");
                continue;
            }
        };
        if !entry.file_type()?.is_file() {
            tracing::warn!(path = %path.display(), "ignoring non-file in the forums directory");
            continue;
        }
        let log = open_log(&id, path)?;
        forums.insert(id, Arc::new(log));
    }
    Ok(forums)
}

/// Open one forum log, validate it and cut a torn tail.
fn open_log(id: &str, path: PathBuf) -> Result<ForumLog, StoreError> {
    let file = OpenOptions::new().read(true).append(true).open(&path)?;
    let scan = scan_log(&file, id)?;
    if scan.end < scan.file_len {
        file.set_len(scan.end)?;
        file.sync_all()?;
        tracing::warn!(
            forum = id,
            offset = scan.end,
            dropped_bytes = scan.file_len - scan.end,
            reason = %scan.torn_reason.as_deref().unwrap_or("unknown"),
            "cut a torn tail off the forum log"
        );
    }
    Ok(ForumLog::new(id.to_owned(), path, Some(file), scan.head, scan.end))
}

struct Scan {
    /// Last good seq.
    head: u64,
    /// End of the last good record.
    end: u64,
    file_len: u64,
    torn_reason: Option<String>,
}

/// Validate every record of a log; decide torn tail vs corruption.
fn scan_log(file: &File, forum: &str) -> Result<Scan, StoreError> {
    let file_len = file.metadata()?.len();
    let mut r = BufReader::with_capacity(READ_BUF, file);
    r.seek(SeekFrom::Start(0))?;
    let mut header = [0u8; HEADER_LEN];
    let mut payload = Vec::new();
    let (mut off, mut head) = (0u64, 0u64);

    while off < file_len {
        let remaining = file_len - off;
        let damage = if remaining < HEADER_LEN as u64 {
            "incomplete record header".to_owned()
        } else {
            r.read_exact(&mut header)?;
            let h = parse_header(&header);
            if h.len > MAX_PAYLOAD as u64 {
                format!("record length {} exceeds the limit", h.len)
            } else if HEADER_LEN as u64 + h.len > remaining {
                "record extends past the end of the file".to_owned()
            } else {
                payload.resize(h.len as usize, 0);
                r.read_exact(&mut payload)?;
                if frame_crc(h.seq, &payload) != h.crc {
                    "checksum mismatch".to_owned()
                } else if h.seq != head + 1 {
                    // Well-formed but misnumbered: no crash produces this.
                    return Err(corrupt(forum, off, format!("expected seq {}, found {}", head + 1, h.seq)));
                } else {
                    head = h.seq;
                    off += HEADER_LEN as u64 + h.len;
                    continue;
                }
            }
        };
        classify_damage(file, forum, off, file_len, head + 1, &damage)?;
        return Ok(Scan { head, end: off, file_len, torn_reason: Some(damage) });
    }
    Ok(Scan { head, end: off, file_len, torn_reason: None })
}

/// Damage at `off`: Ok if it is a torn tail (safe to cut), Corrupt otherwise.
fn classify_damage(
    file: &File,
    forum: &str,
    off: u64,
    file_len: u64,
    next_seq: u64,
    damage: &str,
) -> Result<(), StoreError> {
    let tail_len = file_len - off;
    // A torn write ends inside the record it tore, and no record is longer than this.
    if tail_len > (HEADER_LEN + MAX_PAYLOAD) as u64 {
        return Err(corrupt(
            forum,
            off,
            format!("{damage}, followed by {tail_len} bytes, more than any single record"),
        ));
    }
    let mut tail = vec![0u8; tail_len as usize];
    let mut f = file;
    f.seek(SeekFrom::Start(off))?;
    f.read_exact(&mut tail)?;
    if let Some((at, seq)) = find_valid_record(&tail, next_seq) {
        return Err(corrupt(
            forum,
            off,
            format!("{damage}, followed by a valid record (seq {seq}) at byte {}", off + at as u64),
        ));
    }
    Ok(())
}

/// Look for any plausible, checksum-valid record starting after position 0
/// of `tail`. Seqs below `min_seq` cannot follow the damage, and the seq
/// range check makes the expensive checksum rare at random positions.
fn find_valid_record(tail: &[u8], min_seq: u64) -> Option<(usize, u64)> {
    let max_seq = min_seq.saturating_add((tail.len() / HEADER_LEN) as u64);
    (1..tail.len().saturating_sub(HEADER_LEN - 1)).find_map(|at| {
        let h = parse_header(&tail[at..at + HEADER_LEN]);
        let start = at + HEADER_LEN;
        let plausible = h.len <= (tail.len() - start) as u64 && (min_seq..=max_seq).contains(&h.seq);
        (plausible && frame_crc(h.seq, &tail[start..start + h.len as usize]) == h.crc).then_some((at, h.seq))
    })
}

fn corrupt(forum: &str, offset: u64, reason: String) -> StoreError {
    StoreError::Corrupt { forum: forum.to_owned(), offset, reason }
}

// ------------------------------------------------------------------- append

fn append_blocking(inner: &Inner, log: &ForumLog, records: &[Record]) -> Result<(), StoreError> {
    let mut guard = lock(&log.file)?;
    let state = &mut *guard;
    // Re-checked under the lock: `close` takes the file after setting the flag.
    if inner.closed.load(Ordering::Acquire) {
        return Err(closed_error());
    }
    if state.poisoned {
        return Err(StoreError::Io(io::Error::other(format!(
            "forum {} log is in an unknown state after a failed write; reopen the store",
            log.id
        ))));
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
            let file = OpenOptions::new().read(true).append(true).create_new(true).open(&log.path)?;
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
                state.poisoned = true;
            }
        }
        return Err(e.into());
    }
    log.len.store(start + buf.len() as u64, Ordering::Release);
    log.head.store(head + records.len() as u64, Ordering::Release);
    Ok(())
}

// --------------------------------------------------------------------- read

/// Read the records with seq > `after` from the first `len` bytes of a log.
/// Records at or below `after` are skipped by header only.
fn read_records(path: &Path, forum: &str, len: u64, after: u64) -> Result<Vec<Record>, StoreError> {
    let mut r = BufReader::with_capacity(READ_BUF, File::open(path)?);
    let mut header = [0u8; HEADER_LEN];
    let mut out = Vec::new();
    let (mut off, mut expected) = (0u64, 1u64);
    while off < len {
        let bad = |reason: String| corrupt(forum, off, reason);
        if len - off < HEADER_LEN as u64 {
            return Err(bad("incomplete record header".into()));
        }
        r.read_exact(&mut header)?;
        let h = parse_header(&header);
        if h.len > MAX_PAYLOAD as u64 || HEADER_LEN as u64 + h.len > len - off {
            return Err(bad(format!("bad record length {}", h.len)));
        }
        if h.seq != expected {
            return Err(bad(format!("expected seq {expected}, found {}", h.seq)));
        }
        if h.seq <= after {
            r.seek_relative(h.len as i64)?;
        } else {
            let mut payload = vec![0u8; h.len as usize];
            r.read_exact(&mut payload)?;
            if frame_crc(h.seq, &payload) != h.crc {
                return Err(bad("checksum mismatch".into()));
            }
            out.push(Record { seq: h.seq, payload: Bytes::from(payload) });
        }
        off += HEADER_LEN as u64 + h.len;
        expected += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance::{self, StoreFactory, records};
    use proptest::prelude::*;
    use tempfile::TempDir;

    struct Factory(TempDir);

    impl Factory {
        fn new() -> Self {
            Self(tempfile::tempdir().expect("tempdir"))
        }
    }

    #[async_trait::async_trait]
    impl StoreFactory for Factory {
        async fn open(&self, name: &str) -> Box<dyn EventStore> {
            Box::new(EmbeddedStore::open(self.0.path().join(name)).await.expect("open store"))
        }
    }

    mod conformance_suite {
        use super::Factory;
        use crate::store::conformance::conformance_tests;
        conformance_tests!(Factory::new());
    }

    #[tokio::test]
    async fn run_all_conformance_in_one_go() {
        conformance::run_all(&Factory::new()).await;
    }

    /// Write `recs` to forum "f" in a fresh store under `dir`; return the log's bytes.
    async fn write_log(dir: &Path, recs: &[Record]) -> Vec<u8> {
        let store = EmbeddedStore::open(dir).await.expect("open");
        store.append("f", recs).await.expect("append");
        store.close().await.expect("close");
        fs::read(dir.join("forums/f.log")).expect("read log")
    }

    fn put_log(dir: &Path, bytes: &[u8]) {
        fs::create_dir_all(dir.join("forums")).expect("mkdir");
        fs::write(dir.join("forums/f.log"), bytes).expect("write log");
    }

    fn three() -> Vec<Record> {
        vec![
            Record::new(1, &b"first payload"[..]),
            Record::new(2, &b"second, a bit longer payload"[..]),
            Record::new(3, &b"{\"third\":true,\"text\":\"hello forum\"}"[..]),
        ]
    }

    fn expect_corrupt(res: Result<EmbeddedStore, StoreError>, offset: u64) {
        match res {
            Err(StoreError::Corrupt { forum, offset: at, .. }) => {
                assert_eq!((forum.as_str(), at), ("f", offset));
            }
            other => panic!("expected Corrupt at {offset}, got {other:?}"),
        }
    }

    #[test]
    fn framing_layout() {
        let mut buf = Vec::new();
        encode_record(7, b"abc", &mut buf);
        assert_eq!(buf.len(), HEADER_LEN + 3);
        assert_eq!(&buf[0..4], &3u32.to_le_bytes());
        assert_eq!(&buf[4..8], &frame_crc(7, b"abc").to_le_bytes());
        assert_eq!(&buf[8..16], &7u64.to_le_bytes());
        assert_eq!(&buf[16..], b"abc");
        let mut both = 7u64.to_le_bytes().to_vec();
        both.extend_from_slice(b"abc");
        assert_eq!(frame_crc(7, b"abc"), crc32fast::hash(&both));
    }

    #[tokio::test]
    async fn torn_tail_at_every_offset_of_last_record() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let recs = three();
        let good = write_log(&tmp.path().join("orig"), &recs).await;
        let last_start = good.len() - HEADER_LEN - recs[2].payload.len();

        for cut in last_start..good.len() {
            let dir = tmp.path().join(format!("cut-{cut}"));
            put_log(&dir, &good[..cut]);
            let store = EmbeddedStore::open(&dir).await.expect("torn tail must not fail open");
            assert_eq!(store.head("f").await.expect("head"), 2, "cut at {cut}");
            assert_eq!(store.read_after("f", 0).await.expect("read"), recs[..2], "cut at {cut}");
            let on_disk = fs::metadata(dir.join("forums/f.log")).expect("stat").len();
            assert_eq!(on_disk, last_start as u64, "file truncated to the last good record");
            // The log continues at the right seq.
            store.append("f", &recs[2..]).await.expect("append after recovery");
            store.close().await.expect("close");
            drop(store);
            assert_eq!(fs::read(dir.join("forums/f.log")).expect("read"), good, "cut at {cut}");
        }
    }

    #[tokio::test]
    async fn torn_first_record_leaves_an_empty_forum() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let good = write_log(&tmp.path().join("orig"), &three()[..1]).await;
        for cut in [1, HEADER_LEN - 1, HEADER_LEN, good.len() - 1] {
            let dir = tmp.path().join(format!("cut-{cut}"));
            put_log(&dir, &good[..cut]);
            let store = EmbeddedStore::open(&dir).await.expect("open");
            assert_eq!(store.head("f").await.expect("head"), 0);
            assert!(store.forums().await.expect("forums").is_empty());
            store.append("f", &three()[..1]).await.expect("append");
            assert_eq!(store.read_after("f", 0).await.expect("read"), three()[..1]);
        }
    }

    #[tokio::test]
    async fn flipped_byte_in_last_payload_is_cut() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let recs = three();
        let mut bytes = write_log(&tmp.path().join("orig"), &recs).await;
        let last_start = bytes.len() - HEADER_LEN - recs[2].payload.len();
        let n = bytes.len();
        bytes[n - 5] ^= 0x20;
        let dir = tmp.path().join("flipped");
        put_log(&dir, &bytes);
        let store = EmbeddedStore::open(&dir).await.expect("open");
        assert_eq!(store.read_after("f", 0).await.expect("read"), recs[..2]);
        assert_eq!(fs::metadata(dir.join("forums/f.log")).expect("stat").len(), last_start as u64);
        store.append("f", &recs[2..]).await.expect("append");
        assert_eq!(store.read_after("f", 0).await.expect("read"), recs);
    }

    #[tokio::test]
    async fn flipped_byte_in_first_record_is_corrupt() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let good = write_log(&tmp.path().join("orig"), &three()).await;
        // Payload, seq, checksum and length fields of the first record.
        for pos in [HEADER_LEN + 3, 9, 5, 0, 2] {
            let mut bytes = good.clone();
            bytes[pos] ^= 0x01;
            let dir = tmp.path().join(format!("flip-{pos}"));
            put_log(&dir, &bytes);
            expect_corrupt(EmbeddedStore::open(&dir).await, 0);
            // Refusing to guess means not touching the file.
            assert_eq!(fs::read(dir.join("forums/f.log")).expect("read"), bytes, "flip at {pos}");
        }
    }

    #[tokio::test]
    async fn garbage_after_valid_records_is_cut() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let recs = three();
        let good = write_log(&tmp.path().join("orig"), &recs).await;
        for garbage in [&[0x5a_u8, 0xc3, 0x07][..], &[0u8; 40][..], &[0xff; HEADER_LEN][..]] {
            let mut bytes = good.clone();
            bytes.extend_from_slice(garbage);
            let dir = tmp.path().join(format!("garbage-{}", garbage.len()));
            put_log(&dir, &bytes);
            let store = EmbeddedStore::open(&dir).await.expect("open");
            assert_eq!(store.read_after("f", 0).await.expect("read"), recs);
            assert_eq!(fs::read(dir.join("forums/f.log")).expect("read"), good);
            store.append("f", &[Record::new(4, &b"four"[..])]).await.expect("append");
            assert_eq!(store.head("f").await.expect("head"), 4);
        }
    }

    #[tokio::test]
    async fn well_formed_record_with_wrong_seq_is_corrupt() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut bytes = Vec::new();
        encode_record(1, b"one", &mut bytes);
        let second_at = bytes.len() as u64;
        encode_record(3, b"three", &mut bytes); // skips 2, even at the tail
        put_log(tmp.path(), &bytes);
        expect_corrupt(EmbeddedStore::open(tmp.path()).await, second_at);
    }

    #[tokio::test]
    async fn oversized_payload_is_rejected() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(tmp.path()).await.expect("open");
        let big = Record::new(1, vec![0u8; MAX_PAYLOAD + 1]);
        match store.append("f", &[big]).await {
            Err(StoreError::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::InvalidInput),
            other => panic!("expected InvalidInput, got {other:?}"),
        }
        assert_eq!(store.head("f").await.expect("head"), 0);
        assert!(!tmp.path().join("forums/f.log").exists());
    }

    #[tokio::test]
    async fn stray_files_are_ignored() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let forums = tmp.path().join("forums");
        fs::create_dir_all(forums.join("sub.log")).expect("mkdir");
        fs::write(forums.join("README"), b"hello").expect("write");
        fs::write(forums.join("Upper.log"), b"junk").expect("write");
        fs::write(forums.join("f.log.tmp"), b"junk").expect("write");
        let store = EmbeddedStore::open(tmp.path()).await.expect("open");
        assert!(store.forums().await.expect("forums").is_empty());
    }

    #[tokio::test]
    async fn calls_after_close_fail() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(tmp.path()).await.expect("open");
        store.append("f", &records(1, 2)).await.expect("append");
        store.close().await.expect("close");
        store.close().await.expect("close twice is fine");
        assert!(store.append("f", &records(3, 1)).await.is_err());
        assert!(store.read_after("f", 0).await.is_err());
        assert!(store.head("f").await.is_err());
        assert!(store.forums().await.is_err());
    }

    #[tokio::test]
    async fn reads_see_only_committed_records_while_appending() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(EmbeddedStore::open(tmp.path()).await.expect("open"));
        let writer = {
            let store = store.clone();
            tokio::spawn(async move {
                for seq in 1..=40 {
                    store.append("f", &records(seq, 1)).await.expect("append");
                }
            })
        };
        while !writer.is_finished() {
            let got = store.read_after("f", 0).await.expect("read");
            assert_eq!(got, records(1, got.len() as u64));
            tokio::task::yield_now().await;
        }
        writer.await.expect("writer");
        assert_eq!(store.read_after("f", 0).await.expect("read"), records(1, 40));
    }

    fn batches() -> impl Strategy<Value = Vec<(bool, Vec<Vec<u8>>)>> {
        let payload = prop::collection::vec(any::<u8>(), 0..200);
        let batch = prop::collection::vec(payload, 0..5);
        prop::collection::vec((any::<bool>(), batch), 0..8)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        #[test]
        fn random_batches_survive_reopen(batches in batches()) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async {
                let tmp = tempfile::tempdir().expect("tempdir");
                let mut want: HashMap<&str, Vec<Record>> = HashMap::new();
                let store = EmbeddedStore::open(tmp.path()).await.expect("open");
                for (which, payloads) in &batches {
                    let forum = if *which { "left" } else { "right" };
                    let log = want.entry(forum).or_default();
                    let batch: Vec<Record> = payloads
                        .iter()
                        .enumerate()
                        .map(|(i, p)| Record::new(log.len() as u64 + 1 + i as u64, p.clone()))
                        .collect();
                    store.append(forum, &batch).await.expect("append");
                    log.extend(batch);
                }
                store.close().await.expect("close");
                drop(store);

                let store = EmbeddedStore::open(tmp.path()).await.expect("reopen");
                let mut listed: Vec<&str> =
                    want.iter().filter(|(_, v)| !v.is_empty()).map(|(k, _)| *k).collect();
                listed.sort_unstable();
                assert_eq!(store.forums().await.expect("forums"), listed);
                for (forum, log) in &want {
                    assert_eq!(store.head(forum).await.expect("head"), log.len() as u64);
                    assert_eq!(&store.read_after(forum, 0).await.expect("read"), log);
                }
            });
        }
    }
}
