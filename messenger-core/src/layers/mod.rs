//! Behaviour that is the same on every platform, as wrappers that are `Messenger`s themselves.
//!
//! Recommended order, outermost first:
//! `Gated<Deduplicated<Retrying<RateLimited<Connector>>>>`: the gate refuses before anything else;
//! every retry passes through the rate limiter again.

pub mod dedup;
pub mod gate;
pub mod rate_limit;
pub mod retry;
