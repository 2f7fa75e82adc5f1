//! VK: the one parser (`connector_vk::parse`) on any bytes, then the same bytes as a Callback
//! delivery through `Messenger::handle_webhook`. The secret is in the body: the target adds
//! `"secret"` where the body has none, and configures the community the body names with the
//! secret it carries, so the parser behind the check is reached (never refused as unverified
//! when the body names its community and a non-empty secret). The same delivery to a community
//! with another secret yields no events.
#![no_main]

use libfuzzer_sys::fuzz_target;
use messenger_core::Platform;
use messenger_core::webhook::WebhookRequest;
use messenger_fuzz::{
    SECRET, VK_GROUP, WRONG, check_forged, check_parse, check_verified, handle, vk, vk_head,
    vk_with_secret,
};

const P: Platform = Platform::Vk;

fuzz_target!(|data: &[u8]| {
    check_parse(P, &connector_vk::parse(data));

    let (secret, group) = vk_head(data);
    let (body, secret) = match secret {
        Some(secret) => (data.to_vec(), secret),
        None => match vk_with_secret(data, SECRET) {
            Some(body) => (body, SECRET.to_owned()),
            None => (data.to_vec(), SECRET.to_owned()),
        },
    };
    // A community id is positive: a body naming 0 goes to another community (and is refused).
    let group = group.filter(|g| *g != 0);
    let group_named = group.is_some();
    let community = group.map_or(VK_GROUP, i64::unsigned_abs);
    let request = WebhookRequest::post(body);
    let outcome = handle(&*vk(community, &secret), &request);
    if group_named && !secret.is_empty() && vk_head(&request.body).0.is_some() {
        check_verified(P, &outcome);
    } else if let Ok(o) = &outcome {
        messenger_fuzz::check_events(P, &o.events);
    }
    let other = if secret == WRONG { SECRET } else { WRONG };
    check_forged(&handle(&*vk(community, other), &request));
});
