//! The integration tests: real servers on ephemeral ports, real WebSocket
//! clients, real `redis-server` processes, the real binary.
//!
//! One test binary with one module per subject, so that the harness compiles
//! once and the compiler reports any part of it no test uses. `harness` is the
//! shared client and server plumbing; `redis_scenario` is the vote that both
//! the single-server and the cluster tests run. The one test that needs the
//! machine to itself, `tests/redis_node_kill.rs`, is a binary of its own and
//! borrows this harness.

mod abuse_limits;
mod bad_input;
mod crash;
mod differential;
mod display;
mod fanout_bounds;
mod feeds;
mod follow_through;
mod forum;
mod harness;
mod hybrid;
mod idea_supports;
mod join_lookup;
mod journal_upgrade;
mod limits;
mod origin_and_headers;
mod pairwise;
mod quarantine;
mod record;
mod redis_cluster;
mod redis_faults;
mod redis_nodes;
mod redis_scenario;
mod size_limits;
mod tickets;
mod transcripts;
mod verify;
