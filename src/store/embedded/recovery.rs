//! The scan of every log when the store opens: torn tail or corruption.
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

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::framing::{HEADER_LEN, MAX_PAYLOAD, checksum, parse_header};
use super::{ForumLog, LOG_EXT, READ_BUF, create_private_dir_all, sync_dir};
use crate::store::{StoreError, validate_forum_id};

/// Open every forum log in `forums_dir` (creating the layout if needed),
/// recovering each one.
pub(super) fn open_dir(dir: &Path, forums_dir: &Path) -> Result<HashMap<String, Arc<ForumLog>>, StoreError> {
    create_private_dir_all(forums_dir)?;
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
                if checksum(h.seq, &payload) != h.crc {
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
        (plausible && checksum(h.seq, &tail[start..start + h.len as usize]) == h.crc).then_some((at, h.seq))
    })
}

/// Damage at byte `offset` of a forum's log.
pub(super) fn corrupt(forum: &str, offset: u64, reason: String) -> StoreError {
    StoreError::Corrupt { forum: forum.to_owned(), offset, reason }
}
