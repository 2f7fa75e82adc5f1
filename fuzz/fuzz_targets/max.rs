//! MAX: the one parser (`connector_max::parse`, and `parse_update` that every path shares) on
//! any bytes, then the same bytes as a webhook delivery through `Messenger::handle_webhook`,
//! once with the right `X-Max-Bot-Api-Secret` (never refused as unverified) and once with a
//! wrong one (no events).
#![no_main]

use libfuzzer_sys::fuzz_target;
use messenger_core::Platform;
use messenger_fuzz::{
    SECRET, WRONG, check_forged, check_parse, check_verified, handle, max, post_with_header,
};

const P: Platform = Platform::Max;
const HEADER: &str = connector_max::SECRET_HEADER;

fuzz_target!(|data: &[u8]| {
    check_parse(P, &connector_max::parse(data));
    check_parse(P, &connector_max::parse_update(data));
    let bot = max();
    check_verified(P, &handle(bot, &post_with_header(data, HEADER, SECRET)));
    check_forged(&handle(bot, &post_with_header(data, HEADER, WRONG)));
});
