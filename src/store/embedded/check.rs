//! `madang check`: the health of every forum log, and the operator's repair.
//!
//! The server never cuts a damaged log on its own (it quarantines the forum,
//! see `recovery`): the records after the damage were acknowledged once, and
//! only a person can decide to give them up. This is where that person looks
//! and decides. A repair cuts the log at the end of its last good record,
//! but only after the original is copied to
//! `<dir>/damaged/<forum>.<unix-ms>.log` with a report beside it
//! (`<forum>.<unix-ms>.report.txt`) saying what was removed. The forum's
//! snapshot, which may describe records that are now cut, is moved there too;
//! the log alone rebuilds the forum.
//!
//! It takes the data directory's lock, so it refuses to run on the directory
//! of a running server.

use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::dir_lock::DirLock;
use super::framing::{HEADER_LEN, checksum, parse_header};
use super::recovery::{Ending, LOG_MISSING, find_valid_record, forum_logs, logless_snapshots, read_tail, scan_log};
use super::snapshots::snapshot_path;
use super::{create_private_dir_all, private_file, sync_dir};
use crate::store::StoreError;

const DAMAGED_DIR: &str = "damaged";

/// The health of one forum's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogHealth {
    pub forum: String,
    /// Size of the file.
    pub bytes: u64,
    /// Good records from the start (seqs 1..=head, so also the head seq).
    pub records: u64,
    pub state: LogState,
}

/// What follows the good records of a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogState {
    /// Every byte belongs to a good record.
    Healthy,
    /// A torn tail from a crash mid-append: cut automatically when the server opens the store.
    TornTail { offset: u64, bytes: u64 },
    /// Damage: the server quarantines the forum.
    Damaged {
        offset: u64,
        reason: String,
        /// Valid, consecutive records found after the damage (lost by a repair).
        records_after: u64,
        /// Where the original and the report went, when repaired.
        repaired: Option<Repair>,
    },
}

/// What a repair left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    pub original: PathBuf,
    pub report: PathBuf,
}

impl LogHealth {
    pub fn is_damaged(&self) -> bool {
        matches!(self.state, LogState::Damaged { repaired: None, .. })
    }
}

/// Check every forum log in the store at `dir`; with `repair`, cut each
/// damaged one at its last good record after saving the original and a
/// report. Blocking. Refuses with [`StoreError::Locked`] while a server (or
/// another check) holds the directory.
pub fn check_dir(dir: &Path, repair: bool) -> Result<Vec<LogHealth>, StoreError> {
    if !dir.is_dir() {
        return Err(StoreError::Io(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no data directory at {}", dir.display()),
        )));
    }
    let _lock = DirLock::acquire(dir)?;
    let forums_dir = dir.join("forums");
    if !forums_dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let logs = forum_logs(&forums_dir)?;
    for forum in logless_snapshots(dir, &logs)? {
        let repaired = if repair { Some(set_snapshot_aside(dir, &forum)?) } else { None };
        let state = LogState::Damaged { offset: 0, reason: LOG_MISSING.to_owned(), records_after: 0, repaired };
        out.push(LogHealth { forum, bytes: 0, records: 0, state });
    }
    for (forum, path) in logs {
        let file = File::open(&path)?;
        let scan = scan_log(&file)?;
        let state = match scan.ending {
            Ending::Clean => LogState::Healthy,
            Ending::Torn(_) => LogState::TornTail { offset: scan.end, bytes: scan.file_len - scan.end },
            Ending::Damaged(reason) => {
                let records_after = count_records_after(&file, scan.end, scan.file_len, scan.head + 1)?;
                drop(file);
                let repaired = if repair {
                    let damage = Damage { offset: scan.end, reason: &reason, records_after, head: scan.head };
                    Some(repair_log(dir, &forum, &path, scan.file_len, &damage)?)
                } else {
                    None
                };
                LogState::Damaged { offset: scan.end, reason, records_after, repaired }
            }
        };
        out.push(LogHealth { forum, bytes: scan.file_len, records: scan.head, state });
    }
    Ok(out)
}

/// Valid records in a row after the damage at `off`: the first plausible one
/// anywhere after it, then each that follows it directly.
fn count_records_after(file: &File, off: u64, file_len: u64, next_seq: u64) -> io::Result<u64> {
    let tail = read_tail(file, off, file_len)?;
    let Some((mut at, mut seq)) = find_valid_record(&tail, next_seq) else { return Ok(0) };
    let mut count = 0;
    while at + HEADER_LEN <= tail.len() {
        let h = parse_header(&tail[at..at + HEADER_LEN]);
        let start = at + HEADER_LEN;
        let fits = h.len <= (tail.len() - start) as u64;
        if !fits || h.seq != seq || checksum(h.seq, &tail[start..start + h.len as usize]) != h.crc {
            break;
        }
        count += 1;
        seq += 1;
        at = start + h.len as usize;
    }
    Ok(count)
}

struct Damage<'a> {
    offset: u64,
    reason: &'a str,
    records_after: u64,
    head: u64,
}

/// Save the original and a report under `damaged/`, move the snapshot there,
/// then cut the log; each step durable before the next.
fn repair_log(dir: &Path, forum: &str, path: &Path, file_len: u64, damage: &Damage<'_>) -> io::Result<Repair> {
    let damaged_dir = dir.join(DAMAGED_DIR);
    create_private_dir_all(&damaged_dir)?;
    let stamp = unix_ms();
    let original = damaged_dir.join(format!("{forum}.{stamp}.log"));
    let report = damaged_dir.join(format!("{forum}.{stamp}.report.txt"));

    fs::copy(path, &original)?;
    File::open(&original)?.sync_all()?;

    let snapshot = snapshot_path(dir, forum);
    let moved_snapshot = damaged_dir.join(format!("{forum}.{stamp}.snap"));
    let snapshot_moved = match fs::rename(&snapshot, &moved_snapshot) {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(e),
    };

    let mut text = String::new();
    let _ = writeln!(text, "madang check --repair of forum {forum}");
    let _ = writeln!(text, "log: {}", path.display());
    let _ = writeln!(text, "original ({file_len} bytes) copied to: {}", original.display());
    let _ = writeln!(text, "damage: {}", damage.reason);
    let _ = writeln!(text, "cut at byte {}: records 1..={} kept", damage.offset, damage.head);
    let _ = writeln!(text, "bytes removed: {}", file_len - damage.offset);
    let _ = writeln!(text, "valid records found after the damage (removed): {}", damage.records_after);
    if snapshot_moved {
        let _ = writeln!(text, "snapshot moved to: {} (the log rebuilds the forum)", moved_snapshot.display());
    }
    let mut file = private_file().write(true).create_new(true).open(&report)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    sync_dir(&damaged_dir)?;
    if snapshot_moved {
        sync_dir(&dir.join(super::snapshots::SNAPSHOT_DIR))?;
    }

    let log = OpenOptions::new().write(true).open(path)?;
    log.set_len(damage.offset)?;
    log.sync_all()?;
    Ok(Repair { original, report })
}

/// The repair of a forum whose log is gone: its snapshot alone cannot
/// rebuild it, so it is moved to `damaged/` with a report, and the forum is
/// no longer known.
fn set_snapshot_aside(dir: &Path, forum: &str) -> io::Result<Repair> {
    let damaged_dir = dir.join(DAMAGED_DIR);
    create_private_dir_all(&damaged_dir)?;
    let stamp = unix_ms();
    let original = damaged_dir.join(format!("{forum}.{stamp}.snap"));
    let report = damaged_dir.join(format!("{forum}.{stamp}.report.txt"));
    let mut text = String::new();
    let _ = writeln!(text, "madang check --repair of forum {forum}");
    let _ = writeln!(text, "damage: {LOG_MISSING}");
    let _ = writeln!(text, "snapshot moved to: {}; the forum is no longer served", original.display());
    let mut file = private_file().write(true).create_new(true).open(&report)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    fs::rename(snapshot_path(dir, forum), &original)?;
    sync_dir(&damaged_dir)?;
    sync_dir(&dir.join(super::snapshots::SNAPSHOT_DIR))?;
    Ok(Repair { original, report })
}

/// What names a repair's files, so that repeated repairs never overwrite each other.
fn unix_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis())
}
