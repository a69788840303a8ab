//! The integration tests: real servers on ephemeral ports, real WebSocket
//! clients, real `redis-server` processes, the real binary.
//!
//! One test binary with one module per subject, so that the harness compiles
//! once and the compiler reports any part of it no test uses. `harness` is the
//! shared client and server plumbing; `redis_scenario` is the vote that both
//! the single-server and the cluster tests run.

mod bad_input;
mod crash;
mod differential;
mod forum;
mod harness;
mod hybrid;
mod pairwise;
mod redis_cluster;
mod redis_faults;
mod redis_nodes;
mod redis_scenario;
mod transcripts;
