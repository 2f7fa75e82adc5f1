//! WhatsApp: the one parser (`connector_whatsapp::parse`, `parse_for_number` and the routing
//! peek `phone_number_ids`) on any bytes, then the same bytes as a delivery through
//! `Messenger::handle_webhook`, once signed with the app secret (`X-Hub-Signature-256`: never
//! refused as unverified) and once signed with another secret (no events).
#![no_main]

use libfuzzer_sys::fuzz_target;
use messenger_core::Platform;
use messenger_fuzz::{
    SECRET, WA_NUMBER, WRONG, check_forged, check_parse, check_verified, handle, whatsapp,
    whatsapp_signed,
};

const P: Platform = Platform::WhatsApp;

fuzz_target!(|data: &[u8]| {
    let all = connector_whatsapp::parse(data);
    check_parse(P, &all);
    let mine = connector_whatsapp::webhook::parse_for_number(data, WA_NUMBER);
    check_parse(P, &mine);
    // One parser: the number's view is a part of the whole, and both agree on the body.
    match (&all, &mine) {
        (Ok(all), Ok(mine)) => assert!(mine.len() <= all.len(), "a filter added events"),
        (Err(a), Err(m)) => assert_eq!(a.kind(), m.kind(), "the two paths disagree"),
        _ => panic!("parse and parse_for_number disagree on whether the body is readable"),
    }
    if let Ok(ids) = connector_whatsapp::webhook::phone_number_ids(
        data,
        connector_whatsapp::DEFAULT_MAX_WEBHOOK_BODY,
    ) {
        let mut seen = ids.clone();
        seen.dedup();
        assert_eq!(seen.len(), ids.len(), "ids are distinct");
    }
    let number = whatsapp();
    let verified = handle(number, &whatsapp_signed(data, SECRET));
    check_verified(P, &verified);
    if let (Ok(outcome), Ok(mine)) = (&verified, &mine) {
        assert!(
            messenger_fuzz::same_events(&outcome.events, mine),
            "the webhook and parse_for_number disagree"
        );
    }
    check_forged(&handle(number, &whatsapp_signed(data, WRONG)));
});
