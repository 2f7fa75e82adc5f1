//! Telegram: the one parser (`connector_telegram::parse`, and `parse_update` that every path
//! shares) on any bytes, then the same bytes as a webhook delivery through `Messenger::
//! handle_webhook`, once with the right `X-Telegram-Bot-Api-Secret-Token` (the parser behind
//! the check is reached: never refused as unverified) and once with a wrong one (no events).
#![no_main]

use libfuzzer_sys::fuzz_target;
use messenger_core::Platform;
use messenger_fuzz::{
    SECRET, WRONG, check_forged, check_parse, check_verified, handle, post_with_header, telegram,
};

const P: Platform = Platform::Telegram;
const HEADER: &str = connector_telegram::SECRET_HEADER;

fuzz_target!(|data: &[u8]| {
    check_parse(P, &connector_telegram::parse(data));
    check_parse(P, &connector_telegram::parse_update(data));
    let bot = telegram();
    check_verified(P, &handle(bot, &post_with_header(data, HEADER, SECRET)));
    check_forged(&handle(bot, &post_with_header(data, HEADER, WRONG)));
});
