//! Reading records back from a forum's log.
//!
//! A reader opens the file on its own and stops at the committed length it
//! was given, so it never sees a batch that is still being written, and it
//! never takes the appender's lock.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use bytes::Bytes;

use super::READ_BUF;
use super::framing::{HEADER_LEN, MAX_PAYLOAD, checksum, parse_header};
use super::recovery::corrupt;
use crate::store::{Record, StoreError};

/// Read the records with seq > `after` from the first `len` bytes of a log.
/// Records at or below `after` are skipped by header only.
pub(super) fn read_records(path: &Path, forum: &str, len: u64, after: u64) -> Result<Vec<Record>, StoreError> {
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
            if checksum(h.seq, &payload) != h.crc {
                return Err(bad("checksum mismatch".into()));
            }
            out.push(Record { seq: h.seq, payload: Bytes::from(payload) });
        }
        off += HEADER_LEN as u64 + h.len;
        expected += 1;
    }
    Ok(out)
}
