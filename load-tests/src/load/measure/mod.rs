//! What a run measured, from what its connections saw: the JSON result, the
//! table on stdout, and whether the run counts as clean.
//!
//! Why after the run and not during it: connections only append time stamps
//! to their own report (no shared histogram, no lock on the hot path); all
//! the matching (acks to tallies, changes to receipts) happens here, once.

mod agenda;
mod ballots;
mod histogram;
mod report;
mod server_process;

use std::path::Path;

use anyhow::Result;
use serde_json::Value;

pub(crate) use histogram::{format_percentiles, histogram, percentiles};
pub(crate) use report::{RunTotals, report};
pub(crate) use server_process::{ProcSample, proc_sample, server_sample};

/// The median of the rounds' `frames_per_s`.
pub(crate) fn median_frames_per_s(rounds: &[Value]) -> Option<f64> {
    let mut frames_per_s: Vec<f64> = rounds.iter().filter_map(|round| round["frames_per_s"].as_f64()).collect();
    frames_per_s.sort_by(f64::total_cmp);
    frames_per_s.get(frames_per_s.len() / 2).copied()
}

/// The command line as run, for the result.
pub(crate) fn command_line() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}

/// Write the result as pretty JSON to `--out`, if given.
pub(crate) fn write_result(out: Option<&Path>, result: &Value) -> Result<()> {
    if let Some(out) = out {
        if let Some(dir) = out.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(out, serde_json::to_string_pretty(result)?)?;
    }
    Ok(())
}
