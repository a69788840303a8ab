//! The embedded event store: one append-only log file per forum on local disk.
//!
//! This is the zero-dependency backend: a forum server on a single machine
//! needs nothing but a directory.
//!
//! The pieces, one file each: `framing` (how a record is laid out),
//! `recovery` (the scan on open: torn tail or corruption), `append` (one
//! write and one fsync per batch, the fsync policy), `read` and
//! `snapshots`, and `check` (the operator's health check and repair). The
//! store does not know what a record means: it checks only numbering and
//! integrity.
//!
//! # Layout
//!
//! `<dir>/forums/<forum-id>.log`, one file per forum, created by the first
//! append to that forum, and `<dir>/snapshots/<forum-id>.snap` beside them.
//! Other files in `forums/` are ignored (and logged).
//!
//! One store at a time: opening takes an exclusive lock on `<dir>/lock` (an
//! advisory `flock`, released by the kernel when the process ends, however
//! it ends) and refuses with [`StoreError::Locked`] while another process
//! holds it. Two writers numbering the same log would each ack records the
//! other overwrites.
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

mod append;
mod check;
mod dir_lock;
mod framing;
mod read;
mod recovery;
mod snapshots;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

pub use self::check::{LogHealth, LogState, Repair, check_dir};

use self::append::append_blocking;
use self::dir_lock::DirLock;
use self::framing::MAX_PAYLOAD;
pub(crate) use self::framing::encode_record;
use self::read::read_records;
use self::recovery::open_dir;
use super::{Backend, DamagedForum, EventLog, OutcomeRecord, OutcomeSink, Record, StoreError, validate_forum_id};

const LOG_EXT: &str = "log";
/// Buffer of the readers that scan and read logs.
const READ_BUF: usize = 64 * 1024;

/// See the module documentation.
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

/// What every handle on one store shares.
struct Inner {
    dir: PathBuf,
    forums_dir: PathBuf,
    forums: Mutex<HashMap<String, Arc<ForumLog>>>,
    closed: AtomicBool,
    /// Held from open to close, so that no other process opens the directory.
    dir_lock: Mutex<Option<DirLock>>,
}

/// One forum's log: its file, and how much of it is known durable.
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
    /// Set when the scan on open found damage: every call on the forum fails.
    damage: Option<DamagedForum>,
}

/// The appender's side of a log, behind the per-forum lock.
struct FileState {
    /// `None` until the first append creates the file, and after `close`.
    file: Option<File>,
    /// Why the forum refuses appends until the store is reopened: a failed
    /// write that could not be rolled back, or a file that was removed.
    poisoned: Option<String>,
}

impl fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedStore").field("dir", &self.inner.dir).finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Open (creating if needed) the store in `dir`, scanning and recovering
    /// every forum log. A log with damage other than a torn tail does not
    /// fail the open: its forum is quarantined (see [`Backend::damaged_forums`]).
    pub async fn open(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let dir = dir.into();
        let (dir, forums_dir, forums, dir_lock) = blocking(move || {
            create_private_dir_all(&dir)?;
            // Before the scan: a scan that cuts a torn tail writes.
            let dir_lock = DirLock::acquire(&dir)?;
            let forums_dir = dir.join("forums");
            let forums = open_dir(&dir, &forums_dir)?;
            Ok((dir, forums_dir, forums, dir_lock))
        })
        .await?;
        tracing::debug!(dir = %dir.display(), forums = forums.len(), "embedded store opened");
        Ok(Self {
            inner: Arc::new(Inner {
                dir,
                forums_dir,
                forums: Mutex::new(forums),
                closed: AtomicBool::new(false),
                dir_lock: Mutex::new(Some(dir_lock)),
            }),
        })
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
impl EventLog for EmbeddedStore {
    async fn forums(&self) -> Result<Vec<String>, StoreError> {
        self.check_open()?;
        let mut ids: Vec<String> = lock(&self.inner.forums)?
            .values()
            .filter(|f| f.damage.is_none() && f.head.load(Ordering::Acquire) > 0)
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
        log.check_served()?;
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
        log.check_served()?;
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
        let Some(log) = self.forum(forum)? else { return Ok(0) };
        log.check_served()?;
        Ok(log.head.load(Ordering::Acquire))
    }
}

#[async_trait::async_trait]
impl Backend for EmbeddedStore {
    fn damaged_forums(&self) -> Vec<DamagedForum> {
        let Ok(forums) = lock(&self.inner.forums) else { return Vec::new() };
        let mut damaged: Vec<DamagedForum> = forums.values().filter_map(|f| f.damage.clone()).collect();
        damaged.sort_unstable_by(|a, b| a.forum.cmp(&b.forum));
        damaged
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
        .await?;
        // Every file is synced and closed: another store may open the directory now.
        lock(&self.inner.dir_lock)?.take();
        Ok(())
    }
}

/// A single machine has no consumers of outcomes: they stay in the forum's log.
#[async_trait::async_trait]
impl OutcomeSink for EmbeddedStore {
    async fn publish_outcome(&self, _outcome: &OutcomeRecord) -> Result<(), StoreError> {
        Ok(())
    }
}

impl ForumLog {
    fn new(id: String, path: PathBuf, file: Option<File>, head: u64, len: u64) -> Self {
        Self {
            id,
            path,
            head: AtomicU64::new(head),
            len: AtomicU64::new(len),
            file: Mutex::new(FileState { file, poisoned: None }),
            damage: None,
        }
    }

    /// A forum whose log is damaged: quarantined, its file never opened for writing.
    fn damaged(id: String, path: PathBuf, damage: DamagedForum) -> Self {
        Self { damage: Some(damage), ..Self::new(id, path, None, 0, 0) }
    }

    /// Refuse every call on a quarantined forum.
    fn check_served(&self) -> Result<(), StoreError> {
        match &self.damage {
            Some(d) => Err(StoreError::Corrupt { forum: d.forum.clone(), offset: d.offset, reason: d.reason.clone() }),
            None => Ok(()),
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

/// Options for every file the store creates: the logs and snapshots hold
/// what participants said and their names, so only the server's own user
/// may read them (0600 on Unix; the mode applies when a file is created).
pub fn private_file() -> OpenOptions {
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// `create_dir_all`, with the directories it creates private to the
/// server's user (0700 on Unix), for the same reason as [`private_file`].
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Make directory entries (new files, truncations of the listing) durable.
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
