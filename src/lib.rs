//! Madang: a real-time deliberation server for hybrid citizen forums.
//!
//! See ARCHITECTURE.md for the bird's-eye view and the code map.

pub mod domain;
pub mod store;
