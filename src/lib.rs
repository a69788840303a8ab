//! Madang: a real-time deliberation server for hybrid citizen forums.
//!
//! See ARCHITECTURE.md for the bird's-eye view and the code map. The entry
//! point for embedding and tests is [`server::run`].

pub mod abuse;
pub mod domain;
mod feed;
#[doc(hidden)]
pub mod fuzzing;
mod http;
pub mod hub;
pub mod listener;
pub mod record;
pub mod server;
pub mod store;
mod ticket_api;
pub mod verify;
mod web;
pub mod ws;
