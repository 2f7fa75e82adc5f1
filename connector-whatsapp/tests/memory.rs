//! What a delivery at the size limit may cost in memory, enforced with a capping allocator:
//! the limit is what bounds `parse` (before it, the review's 20 MB delivery became 10 M
//! events and 3.5 GB), and the routing peek builds nothing but the ids, whatever the delivery
//! carries. An allocation past a cap aborts this test binary.
//!
//! One test in this binary, so that no other test allocates while it measures.

use std::alloc::System;

use cap::Cap;

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// Runs `f` with at most `budget` more bytes allocated at any moment than before it.
fn within<T>(budget: usize, f: impl FnOnce() -> T) -> T {
    ALLOCATOR
        .set_limit(ALLOCATOR.allocated() + budget)
        .expect("a limit above what is allocated");
    let out = f();
    ALLOCATOR.set_limit(usize::MAX).expect("no limit");
    out
}

/// A delivery of at most `len` bytes whose one change holds `item` repeated.
fn delivery(len: usize, item: &str) -> Vec<u8> {
    let head = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"106540352242922"},"messages":["#;
    let tail = "]}}]}]}";
    let mut body = String::with_capacity(len);
    body.push_str(head);
    while body.len() + item.len() + 1 + tail.len() <= len {
        if !body.ends_with('[') {
            body.push(',');
        }
        body.push_str(item);
    }
    body.push_str(tail);
    body.into_bytes()
}

const MIB: usize = 1 << 20;

#[test]
fn a_delivery_at_the_limit_has_a_bounded_cost() {
    let limit = connector_whatsapp::DEFAULT_MAX_WEBHOOK_BODY;
    let texts = delivery(
        limit,
        r#"{"from":"16505551234","id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=","timestamp":"1749416383","type":"text","text":{"body":"Does it come in another color?"}}"#,
    );
    let empties = delivery(limit, "{}");

    // The routing peek over 3 MiB of messages builds only the one id.
    let ids = within(64 * 1024, || {
        connector_whatsapp::webhook::phone_number_ids(&texts, limit)
    });
    assert_eq!(ids.unwrap(), ["106540352242922"]);

    // The worst case for `parse`: the smallest items (`{}`, one event each) filling the limit.
    let events = within(512 * MIB, || {
        connector_whatsapp::parse(&empties).map(|e| e.len())
    });
    assert!(events.unwrap() > 1_000_000);

    // Real messages at the limit.
    let events = within(256 * MIB, || {
        connector_whatsapp::parse(&texts).map(|e| e.len())
    });
    assert!(events.unwrap() > 10_000);
}
