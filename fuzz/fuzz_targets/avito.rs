//! Avito: the one parser (`connector_avito::parse`) on any bytes, then the same bytes as a
//! delivery through `Messenger::handle_webhook`, once to the registered URL with the right
//! `token` (never refused as unverified; the answer is `200 {"ok":true}` and its events are
//! the parser's) and once with a wrong token (no events).
#![no_main]

use libfuzzer_sys::fuzz_target;
use messenger_core::Platform;
use messenger_fuzz::{
    SECRET, WRONG, avito, avito_post, check_forged, check_parse, check_verified, handle,
};

const P: Platform = Platform::Avito;

fuzz_target!(|data: &[u8]| {
    let parsed = connector_avito::parse(data);
    check_parse(P, &parsed);
    let account = avito();
    let verified = handle(account, &avito_post(data, SECRET));
    check_verified(P, &verified);
    if let (Ok(outcome), Ok(events)) = (&verified, &parsed) {
        assert!(
            messenger_fuzz::same_events(&outcome.events, events),
            "the webhook and parse disagree"
        );
    }
    check_forged(&handle(account, &avito_post(data, WRONG)));
});
