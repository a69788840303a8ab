//! A process's CPU time and resident memory, read from `/proc`.
//!
//! Why from outside: the server under test is any binary (Madang or the
//! peer), so it is sampled by pid, without its cooperation.

use crate::cli::RunArgs;

#[derive(Clone, Copy, Default)]
pub(crate) struct ProcSample {
    /// User and system CPU time so far, in seconds.
    pub(crate) cpu_s: f64,
    /// Resident set size, in bytes.
    pub(crate) rss: u64,
}

/// The process `pid` now; `None` when it cannot be read (gone, not Linux).
pub(crate) fn proc_sample(pid: u32) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu_s = (fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?) / hz;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss =
        status.lines().find(|line| line.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024;
    Some(ProcSample { cpu_s, rss })
}

/// The server under test (`--server-pid`), if given.
pub(crate) fn server_sample(args: &RunArgs) -> Option<ProcSample> {
    args.server_pid.and_then(proc_sample)
}
