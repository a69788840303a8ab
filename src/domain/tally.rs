//! Tallies: ballot validation and counting for every poll method.
