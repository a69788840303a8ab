//! The event store: ordered, durable records per forum.
