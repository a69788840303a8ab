//! The scan of every log when the store opens: torn tail or damage.
//!
//! All logs are scanned when the store is opened (not lazily), so that
//! `forums()` and `head()` are exact and damage is reported at start-up rather
//! than in the middle of a deliberation. Every record is checked: sane length,
//! matching checksum, and seq = previous + 1. What happens at the first bad
//! record depends on what it is and what follows it:
//!
//! * an **incomplete** last record (its header or payload extends past the
//!   end of the file) with nothing valid after it, or nothing but zero bytes
//!   after the last good record (space the file system allocated but the
//!   crash left unwritten): this is a **torn tail**, the normal result of a
//!   crash during an append that was never acknowledged. The file is
//!   truncated to the end of the last good record, fsynced, and a warning
//!   names the forum, the offset and the number of bytes dropped;
//! * anything else (a complete record whose checksum fails, a well-formed
//!   record with the wrong seq, a valid record after the damage, more data
//!   than one record can hold): the record was acknowledged once, and cutting
//!   it would drop it silently. The forum is **quarantined**: the store opens,
//!   every other forum serves, this one refuses every call with
//!   [`StoreError::Corrupt`], an error names the forum, offset and reason, and
//!   the file is not touched. An operator decides (`madang check --repair`).
//!
//! A forum with a snapshot but no log (the file was removed) is quarantined
//! the same way, at offset 0: its records are gone, and answering as if the
//! forum never existed would hide that.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::framing::{HEADER_LEN, MAX_PAYLOAD, checksum, parse_header};
use super::snapshots::{SNAPSHOT_DIR, SNAPSHOT_EXT};
use super::{ForumLog, LOG_EXT, READ_BUF, create_private_dir_all, log_path, sync_dir};
use crate::store::{DamagedForum, StoreError, validate_forum_id};

/// Open every forum log in `forums_dir` (creating the layout if needed),
/// recovering each one.
pub(super) fn open_dir(dir: &Path, forums_dir: &Path) -> Result<HashMap<String, Arc<ForumLog>>, StoreError> {
    create_private_dir_all(forums_dir)?;
    // Cheap, and makes a freshly created layout itself durable.
    sync_dir(dir)?;
    sync_dir(forums_dir)?;

    let mut forums = HashMap::new();
    let logs = forum_logs(forums_dir)?;
    for id in logless_snapshots(dir, &logs)? {
        tracing::error!(
            forum = %id,
            reason = LOG_MISSING,
            "forum log is missing: the forum is quarantined and not served (inspect it with `madang check`)"
        );
        let damage = DamagedForum { forum: id.clone(), offset: 0, reason: LOG_MISSING.to_owned() };
        forums.insert(id.clone(), Arc::new(ForumLog::damaged(id.clone(), log_path(forums_dir, &id), damage)));
    }
    for (id, path) in logs {
        let log = open_log(&id, path)?;
        forums.insert(id, Arc::new(log));
    }
    Ok(forums)
}

/// Why a forum with a snapshot but no log is quarantined.
pub(super) const LOG_MISSING: &str = "the log file is missing, but a snapshot of the forum exists";

/// Forums that have a snapshot but no log, sorted. A log is written before
/// any snapshot of its forum and never removed by the store, so its absence
/// means it was lost: serving the forum as unknown (or, worse, as new) would
/// hide that.
pub(super) fn logless_snapshots(dir: &Path, logs: &[(String, PathBuf)]) -> io::Result<Vec<String>> {
    let snapshots_dir = dir.join(SNAPSHOT_DIR);
    let entries = match fs::read_dir(&snapshots_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut missing = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if let (Some(stem), Some(ext)) = (path.file_stem().and_then(|s| s.to_str()), path.extension())
            && ext == SNAPSHOT_EXT
            && validate_forum_id(stem).is_ok()
            && !logs.iter().any(|(id, _)| id == stem)
        {
            missing.push(stem.to_owned());
        }
    }
    missing.sort_unstable();
    Ok(missing)
}

/// Every forum log in `forums_dir`, sorted by forum id; other entries are
/// logged and skipped.
pub(super) fn forum_logs(forums_dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    let mut logs = Vec::new();
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
        logs.push((id, path));
    }
    logs.sort_unstable();
    Ok(logs)
}

/// Open one forum log, validate it and cut a torn tail, or quarantine it.
fn open_log(id: &str, path: PathBuf) -> Result<ForumLog, StoreError> {
    let file = OpenOptions::new().read(true).append(true).open(&path)?;
    let scan = scan_log(&file)?;
    match scan.ending {
        Ending::Clean => {}
        Ending::Torn(reason) => {
            file.set_len(scan.end)?;
            file.sync_all()?;
            tracing::warn!(
                forum = id,
                offset = scan.end,
                dropped_bytes = scan.file_len - scan.end,
                %reason,
                "cut a torn tail off the forum log"
            );
        }
        Ending::Damaged(reason) => {
            tracing::error!(
                forum = id,
                offset = scan.end,
                %reason,
                "forum log is damaged: the forum is quarantined and not served; the file is left as it is \
                 (inspect it with `madang check`)"
            );
            let damage = DamagedForum { forum: id.to_owned(), offset: scan.end, reason };
            return Ok(ForumLog::damaged(id.to_owned(), path, damage));
        }
    }
    Ok(ForumLog::new(id.to_owned(), path, Some(file), scan.head, scan.end))
}

/// The result of scanning one log.
pub(super) struct Scan {
    /// Last good seq.
    pub(super) head: u64,
    /// End of the last good record: where the damage or the torn tail starts.
    pub(super) end: u64,
    pub(super) file_len: u64,
    pub(super) ending: Ending,
}

/// What follows the last good record.
pub(super) enum Ending {
    /// Nothing: every byte belongs to a good record.
    Clean,
    /// A torn tail, safe to cut; the reason.
    Torn(String),
    /// Damage no crash explains; the reason.
    Damaged(String),
}

/// Validate every record of a log; decide torn tail vs damage.
pub(super) fn scan_log(file: &File) -> io::Result<Scan> {
    let file_len = file.metadata()?.len();
    let mut r = BufReader::with_capacity(READ_BUF, file);
    r.seek(SeekFrom::Start(0))?;
    let mut header = [0u8; HEADER_LEN];
    let mut payload = Vec::new();
    let (mut off, mut head) = (0u64, 0u64);

    while off < file_len {
        let remaining = file_len - off;
        let incomplete = if remaining < HEADER_LEN as u64 {
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
                let ending = if checksum(h.seq, &payload) != h.crc {
                    if tail_is_zeros(file, off, file_len)? {
                        Ending::Torn("only zero bytes after the last record".to_owned())
                    } else {
                        Ending::Damaged("checksum mismatch in a complete record".to_owned())
                    }
                } else if h.seq != head + 1 {
                    // Well-formed but misnumbered: no crash produces this.
                    Ending::Damaged(format!("expected seq {}, found {}", head + 1, h.seq))
                } else {
                    head = h.seq;
                    off += HEADER_LEN as u64 + h.len;
                    continue;
                };
                return Ok(Scan { head, end: off, file_len, ending });
            }
        };
        let ending = match damage_after_incomplete(file, off, file_len, head + 1, &incomplete)? {
            Some(damage) => Ending::Damaged(damage),
            None => Ending::Torn(incomplete),
        };
        return Ok(Scan { head, end: off, file_len, ending });
    }
    Ok(Scan { head, end: off, file_len, ending: Ending::Clean })
}

/// Whether every byte from `off` to the end of the file is zero.
fn tail_is_zeros(file: &File, off: u64, file_len: u64) -> io::Result<bool> {
    let mut f = file;
    f.seek(SeekFrom::Start(off))?;
    let mut r = BufReader::with_capacity(READ_BUF, f.take(file_len - off));
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(true);
        }
        if chunk.iter().any(|&b| b != 0) {
            return Ok(false);
        }
        let n = chunk.len();
        r.consume(n);
    }
}

/// An incomplete record at `off`: `None` if it is a torn tail (safe to cut),
/// else why it is damage.
fn damage_after_incomplete(
    file: &File,
    off: u64,
    file_len: u64,
    next_seq: u64,
    incomplete: &str,
) -> io::Result<Option<String>> {
    let tail_len = file_len - off;
    // A torn write ends inside the record it tore, and no record is longer than this.
    if tail_len > (HEADER_LEN + MAX_PAYLOAD) as u64 {
        return Ok(Some(format!("{incomplete}, followed by {tail_len} bytes, more than any single record")));
    }
    let tail = read_tail(file, off, file_len)?;
    Ok(find_valid_record(&tail, next_seq)
        .map(|(at, seq)| format!("{incomplete}, followed by a valid record (seq {seq}) at byte {}", off + at as u64)))
}

/// The bytes from `off` to the end of the file.
pub(super) fn read_tail(file: &File, off: u64, file_len: u64) -> io::Result<Vec<u8>> {
    let mut tail = vec![0u8; (file_len - off) as usize];
    let mut f = file;
    f.seek(SeekFrom::Start(off))?;
    f.read_exact(&mut tail)?;
    Ok(tail)
}

/// Look for any plausible, checksum-valid record starting after position 0
/// of `tail`. Seqs below `min_seq` cannot follow the damage, and the seq
/// range check makes the expensive checksum rare at random positions.
pub(super) fn find_valid_record(tail: &[u8], min_seq: u64) -> Option<(usize, u64)> {
    let max_seq = min_seq.saturating_add((tail.len() / HEADER_LEN) as u64);
    (1..tail.len().saturating_sub(HEADER_LEN - 1)).find_map(|at| {
        let h = parse_header(&tail[at..at + HEADER_LEN]);
        let start = at + HEADER_LEN;
        let plausible = h.len <= (tail.len() - start) as u64 && (min_seq..=max_seq).contains(&h.seq);
        (plausible && checksum(h.seq, &tail[start..start + h.len as usize]) == h.crc).then_some((at, h.seq))
    })
}

/// Damage at byte `offset` of a forum's log.
pub(super) fn corrupt(forum: &str, offset: u64, reason: String) -> StoreError {
    StoreError::Corrupt { forum: forum.to_owned(), offset, reason }
}
