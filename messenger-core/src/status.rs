//! The monotonic status tracker (being written).
