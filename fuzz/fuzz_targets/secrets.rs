//! Every signature and secret check, on any secret, presented value and body: the core's
//! `constant_time_eq`, `verify_secret_header` and `verify_hmac_sha256`, and each connector's
//! check (Telegram's and MAX's secret header, WhatsApp's `X-Hub-Signature-256` and its GET
//! handshake, VK's body `secret`, Avito's URL token). Each must accept exactly what it
//! documents: the configured, non-empty secret (a correct HMAC of the exact body), and refuse
//! everything else, failing closed.
//!
//! The input is `expected \0 given \0 body` (a missing part is empty).
#![no_main]

use libfuzzer_sys::fuzz_target;
use messenger_core::ErrorKind;
use messenger_core::webhook::{
    WebhookRequest, constant_time_eq, hmac_sha256_hex, verify_hmac_sha256, verify_secret_header,
};

/// Hex as `verify_hmac_sha256` documents it, decoded independently: pairs of digits of either
/// case, nothing else.
fn unhex(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if digits.len() % 2 != 0 {
        return None;
    }
    let value = |d: u8| match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        b'A'..=b'F' => Some(d - b'A' + 10),
        _ => None,
    };
    digits
        .chunks(2)
        .map(|pair| Some(value(pair[0])? << 4 | value(pair[1])?))
        .collect()
}

/// A refusal is `WebhookRejected`.
fn refused<T>(result: &messenger_core::Result<T>) -> bool {
    match result {
        Ok(_) => false,
        Err(err) => {
            assert_eq!(
                err.kind(),
                ErrorKind::WebhookRejected,
                "a refusal of another kind"
            );
            true
        }
    }
}

fn query_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == 0);
    let expected = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let given = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let body = parts.next().unwrap_or_default();
    let same = !expected.is_empty() && given == expected;

    assert_eq!(
        constant_time_eq(given.as_bytes(), expected.as_bytes()),
        given == expected
    );

    // The core's header check, with the header name in any case, and without the header.
    for name in ["X-Max-Bot-Api-Secret", "x-max-bot-api-secret"] {
        let request = WebhookRequest::post(body.to_vec()).header(name, given.as_str());
        let result = verify_secret_header(&request, "X-Max-Bot-Api-Secret", &expected);
        assert_eq!(!refused(&result), same, "verify_secret_header");
    }
    let bare = WebhookRequest::post(body.to_vec());
    assert!(refused(&verify_secret_header(
        &bare,
        "X-Max-Bot-Api-Secret",
        &expected
    )));

    // Telegram's and MAX's checks: the core's, under their headers; no secret refuses all.
    let tg = WebhookRequest::post(body.to_vec())
        .header(connector_telegram::SECRET_HEADER, given.as_str());
    assert_eq!(
        !refused(&connector_telegram::webhook::verify(&tg, Some(&expected))),
        same,
        "telegram"
    );
    assert!(refused(&connector_telegram::webhook::verify(&tg, None)));
    let mx =
        WebhookRequest::post(body.to_vec()).header(connector_max::SECRET_HEADER, given.as_str());
    assert_eq!(
        !refused(&connector_max::webhook::verify(&mx, Some(&expected))),
        same,
        "max"
    );
    assert!(refused(&connector_max::webhook::verify(&mx, None)));

    // HMAC-SHA256: `given` as the presented signature, and the right one.
    let secret = expected.as_bytes();
    let mac_hex = hmac_sha256_hex(secret, body);
    let mac = unhex(&mac_hex).expect("hmac_sha256_hex gives hex");
    assert_eq!(mac.len(), 32);
    let matches = !secret.is_empty()
        && given
            .strip_prefix("sha256=")
            .and_then(|h| unhex(h.trim()))
            .is_some_and(|g| g == mac);
    let result = verify_hmac_sha256(secret, body, Some(&given), "sha256=");
    assert_eq!(!refused(&result), matches, "verify_hmac_sha256");
    let right = format!("sha256={mac_hex}");
    let result = verify_hmac_sha256(secret, body, Some(&right), "sha256=");
    assert_eq!(!refused(&result), !secret.is_empty(), "the right HMAC");
    assert!(refused(&verify_hmac_sha256(secret, body, None, "sha256=")));
    let mut wrong = right.clone().into_bytes();
    let last = wrong.len() - 1;
    wrong[last] = if wrong[last] == b'0' { b'1' } else { b'0' };
    let wrong = String::from_utf8(wrong).expect("ascii");
    assert!(refused(&verify_hmac_sha256(
        secret,
        body,
        Some(&wrong),
        "sha256="
    )));

    // WhatsApp: the signature header over the exact body, and the GET handshake.
    let wa = |sig: &str| {
        let request = WebhookRequest::post(body.to_vec())
            .header(connector_whatsapp::webhook::SIGNATURE_HEADER, sig);
        connector_whatsapp::webhook::verify_signature(&request, Some(&expected))
    };
    assert_eq!(!refused(&wa(&given)), matches, "whatsapp signature");
    assert_eq!(
        !refused(&wa(&right)),
        !secret.is_empty(),
        "whatsapp right signature"
    );
    let query = String::from_utf8_lossy(body).into_owned();
    let handshake = connector_whatsapp::webhook::verify_handshake(
        &WebhookRequest::get(query.clone()),
        Some(&expected),
    );
    let challenge = query_param(&query, "hub.challenge").filter(|c| !c.is_empty());
    let accept = !expected.is_empty()
        && query_param(&query, "hub.mode").as_deref() == Some("subscribe")
        && query_param(&query, "hub.verify_token").as_deref() == Some(expected.as_str())
        && challenge.is_some();
    match handshake {
        Ok(response) => {
            assert!(accept, "a handshake accepted without the verify token");
            assert_eq!(response.status, 200);
            assert_eq!(
                Some(&response.body[..]),
                challenge.as_deref().map(str::as_bytes)
            );
        }
        Err(err) => {
            assert!(!accept, "a right handshake refused");
            assert_eq!(err.kind(), ErrorKind::WebhookRejected);
        }
    }
    let built = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("hub.mode", "subscribe")
        .append_pair("hub.verify_token", &expected)
        .append_pair("hub.challenge", &given)
        .finish();
    let handshake =
        connector_whatsapp::webhook::verify_handshake(&WebhookRequest::get(built), Some(&expected));
    assert_eq!(
        handshake.is_ok(),
        !expected.is_empty() && !given.is_empty(),
        "a handshake Meta would send"
    );

    // VK: the body's `secret`.
    assert_eq!(
        !refused(&connector_vk::webhook::verify_secret(
            Some(&given),
            Some(&expected)
        )),
        same,
        "vk"
    );
    assert!(refused(&connector_vk::webhook::verify_secret(
        None,
        Some(&expected)
    )));
    assert!(refused(&connector_vk::webhook::verify_secret(
        Some(&given),
        None
    )));

    // Avito: the token of the registered URL (a query parameter), else the server's header.
    let mut request = WebhookRequest::post(body.to_vec());
    request.query = Some(query.clone());
    let presented = query_param(&query, connector_avito::webhook::TOKEN_PARAM);
    let result = connector_avito::webhook::verify_token(&request, Some(&expected));
    assert_eq!(
        !refused(&result),
        !expected.is_empty() && presented.as_deref() == Some(expected.as_str()),
        "avito query token"
    );
    let request = WebhookRequest::post(body.to_vec())
        .header(connector_avito::webhook::TOKEN_HEADER, given.as_str());
    assert_eq!(
        !refused(&connector_avito::webhook::verify_token(
            &request,
            Some(&expected)
        )),
        same,
        "avito header token"
    );
    let mut request = WebhookRequest::post(body.to_vec());
    request.query = Some(
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", &given)
            .finish(),
    );
    assert_eq!(
        !refused(&connector_avito::webhook::verify_token(
            &request,
            Some(&expected)
        )),
        same,
        "avito registered URL"
    );
    assert!(refused(&connector_avito::webhook::verify_token(
        &request, None
    )));
});
