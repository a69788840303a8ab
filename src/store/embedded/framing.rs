//! How one record is laid out in a forum's log file.
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
//! This module only encodes and decodes; whether a decoded header makes sense
//! where it stands is for the scan on open and the reader to judge.

/// Size of the fixed part of a record on disk.
pub(crate) const HEADER_LEN: usize = 16;
/// Largest payload accepted by `append`; a larger length on disk is damage.
pub(crate) const MAX_PAYLOAD: usize = 16 * 1024 * 1024;

/// Append one framed record to `buf`. The caller guarantees the size limit.
pub(crate) fn encode_record(seq: u64, payload: &[u8], buf: &mut Vec<u8>) {
    debug_assert!(payload.len() <= MAX_PAYLOAD);
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&checksum(seq, payload).to_le_bytes());
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(payload);
}

/// crc32 over (seq as 8 LE bytes ++ payload): the checksum of a log record,
/// and of a snapshot file too.
pub(super) fn checksum(seq: u64, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&seq.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// The fixed part of a record, as read (not yet checked).
#[derive(Clone, Copy)]
pub(super) struct Header {
    pub(super) len: u64,
    pub(super) crc: u32,
    pub(super) seq: u64,
}

/// Decode the first [`HEADER_LEN`] bytes of `b`.
pub(super) fn parse_header(b: &[u8]) -> Header {
    Header {
        len: u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        crc: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        seq: u64::from_le_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]),
    }
}
