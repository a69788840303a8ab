//! The forum's rules: pure, no I/O, no clock (time is passed in).

pub mod tally;
