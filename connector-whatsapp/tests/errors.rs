//! Error mapping, one test per documented code, on both paths: the immediate answer to a send
//! (keyed on `error.code`, whatever the HTTP status) and a later `failed` status webhook.

mod common;

use common::*;
use messenger_core::plan::Part;
use messenger_core::{
    ChatId, Delivery, ErrorKind, InboundEvent, Messenger, OutgoingContent, Platform,
};
use serde_json::json;

/// Sends a text whose answer is `http_status` with a Graph error `code`; returns the error.
async fn immediate(code: i64, http_status: usize) -> messenger_core::Error {
    let mut server = mockito::Server::new_async().await;
    let mock = server
        .mock("POST", MESSAGES_PATH)
        .with_status(http_status)
        .with_header("content-type", "application/json")
        .with_body(graph_error(code, &format!("(#{code}) description")))
        .expect(1)
        .create_async()
        .await;
    let part = Part {
        content: OutgoingContent::text("hello"),
        reply_to: None,
        idempotency_key: None,
    };
    let err = client(&server)
        .send_part(&ChatId::new(CUSTOMER), &part)
        .await
        .unwrap_err();
    mock.assert_async().await;
    err
}

/// The error of a `failed` status carrying `code`.
fn later(code: i64) -> messenger_core::StatusError {
    let body = status_delivery(json!({"id": "wamid.F", "status": "failed",
        "timestamp": "1750000123", "recipient_id": CUSTOMER,
        "errors": [{"code": code, "title": "Title", "message": "Message"}]}));
    match connector_whatsapp::parse(body.as_bytes())
        .unwrap()
        .remove(0)
    {
        InboundEvent::Status(s) => s.error.expect("a failed status has an error"),
        other => panic!("{other:?}"),
    }
}

async fn check(code: i64, kind: ErrorKind, retryable: bool) {
    for http_status in [400, 403, 429, 500] {
        let err = immediate(code, http_status).await;
        assert_eq!(err.kind(), kind, "code {code} over HTTP {http_status}");
        assert_eq!(
            err.is_retryable(),
            retryable,
            "code {code} over HTTP {http_status}"
        );
        assert_eq!(err.platform_code(), Some(code.to_string().as_str()));
        assert_eq!(err.platform(), Some(Platform::WhatsApp));
        let delivery = if kind == ErrorKind::Transport {
            Delivery::MaybeSent
        } else {
            Delivery::NotSent
        };
        assert_eq!(err.delivery(), delivery, "code {code}");
    }
    let status = later(code);
    assert_eq!(status.kind, kind, "failed status with code {code}");
    assert_eq!(status.code, Some(code.to_string()));
}

macro_rules! code_tests {
    ($($name:ident: $code:expr => $kind:ident, $retryable:expr;)*) => {$(
        #[tokio::test]
        async fn $name() {
            check($code, ErrorKind::$kind, $retryable).await;
        }
    )*};
}

code_tests! {
    code_4_app_rate_limit: 4 => RateLimited, true;
    code_80007_waba_rate_limit: 80007 => RateLimited, true;
    code_130429_throughput: 130429 => RateLimited, true;
    code_131056_pair_rate_limit: 131056 => RateLimited, true;
    code_131047_reengagement: 131047 => OutsideReplyWindow, false;
    code_131026_undeliverable: 131026 => RecipientBlocked, false;
    code_0_auth_exception: 0 => Unauthorized, false;
    code_190_token_expired: 190 => Unauthorized, false;
    code_3_capability_missing: 3 => Unauthorized, false;
    code_10_permission_denied: 10 => Unauthorized, false;
    code_200_permission_missing: 200 => Unauthorized, false;
    code_299_permission_missing: 299 => Unauthorized, false;
    code_100_invalid_parameter: 100 => InvalidInput, false;
    code_131051_unsupported_type: 131051 => Unsupported, false;
    code_131052_media_download: 131052 => NotFound, false;
    code_131053_media_upload: 131053 => InvalidInput, false;
    code_131014_media_link_fetch: 131014 => InvalidInput, false;
    code_132000_template_params: 132000 => InvalidInput, false;
    code_132001_template_missing: 132001 => NotFound, false;
    code_1_unknown: 1 => Transport, true;
    code_2_service_unavailable: 2 => Transport, true;
    code_131000_something_went_wrong: 131000 => Transport, true;
    code_131057_maintenance_mode: 131057 => Transport, true;
    code_131048_spam_rate_limit: 131048 => Platform, false;
    code_131049_marketing_limit: 131049 => Platform, false;
    code_368_policy_block: 368 => Platform, false;
    code_130472_experiment: 130472 => Platform, false;
}

#[tokio::test]
async fn server_errors_without_a_graph_body_are_retryable_transport() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", MESSAGES_PATH)
        .with_status(502)
        .with_body("<html>Bad Gateway</html>")
        .create_async()
        .await;
    let part = Part {
        content: OutgoingContent::text("hello"),
        reply_to: None,
        idempotency_key: None,
    };
    let err = client(&server)
        .send_part(&ChatId::new(CUSTOMER), &part)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert!(err.is_retryable());
    assert_eq!(err.delivery(), Delivery::MaybeSent);
}

#[tokio::test]
async fn retry_after_is_kept_on_rate_limits() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", MESSAGES_PATH)
        .with_status(429)
        .with_header("retry-after", "7")
        .with_body(graph_error(130429, "(#130429) Rate limit hit"))
        .create_async()
        .await;
    let part = Part {
        content: OutgoingContent::text("hello"),
        reply_to: None,
        idempotency_key: None,
    };
    let err = client(&server)
        .send_part(&ChatId::new(CUSTOMER), &part)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(7)));
}

#[tokio::test]
async fn connection_refused_is_not_sent() {
    // Port 9 (discard) on loopback: nothing listens there in the test environment.
    let wa = connector_whatsapp::WhatsApp::new(
        connector_whatsapp::WhatsAppConfig::new(TOKEN, PHONE_ID).base_url("http://127.0.0.1:9"),
    )
    .unwrap();
    let part = Part {
        content: OutgoingContent::text("hello"),
        reply_to: None,
        idempotency_key: None,
    };
    let err = wa
        .send_part(&ChatId::new(CUSTOMER), &part)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert_eq!(err.delivery(), Delivery::NotSent);
    assert!(!err.to_string().contains(TOKEN));
}

#[tokio::test]
async fn error_messages_mask_phone_numbers() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", MESSAGES_PATH)
        .with_status(400)
        .with_body(graph_error(
            131030,
            "(#131030) Recipient phone number 16505551234 not in allowed list",
        ))
        .create_async()
        .await;
    let part = Part {
        content: OutgoingContent::text("hello"),
        reply_to: None,
        idempotency_key: None,
    };
    let err = client(&server)
        .send_part(&ChatId::new(CUSTOMER), &part)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Platform);
    assert!(!err.to_string().contains(CUSTOMER), "{err}");
    assert!(!format!("{err:?}").contains(CUSTOMER));
}

#[tokio::test]
async fn rate_limits_say_how_far_they_reach() {
    // The number's, the app's and the business account's quotas pause the whole account; the
    // pair limit only the one customer.
    for (code, scope) in [
        (4, messenger_core::RateScope::Account),
        (80007, messenger_core::RateScope::Account),
        (130429, messenger_core::RateScope::Account),
        (131056, messenger_core::RateScope::Chat),
    ] {
        let err = immediate(code, 400).await;
        assert_eq!(err.kind(), ErrorKind::RateLimited, "{code}");
        assert_eq!(err.rate_scope(), scope, "{code}");
    }
}

#[tokio::test]
async fn a_timeout_of_a_request_that_is_not_a_send_is_not_sent() {
    // A server that accepts the connection and never answers: the lookup of the number times
    // out; nothing could have been sent by it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let _keep = std::thread::spawn(move || {
        let _conns: Vec<_> = listener.incoming().take(2).collect();
    });
    let wa = connector_whatsapp::WhatsAppConfig::new(TOKEN, PHONE_ID)
        .base_url(format!("http://{addr}"))
        .http(
            messenger_http::HttpSettings::default()
                .request_timeout(std::time::Duration::from_millis(300)),
        )
        .build()
        .unwrap();
    let err = wa.connect().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert_eq!(err.delivery(), Delivery::NotSent);
    // The same timeout on a send may have delivered it.
    let part = Part {
        content: OutgoingContent::text("hello"),
        reply_to: None,
        idempotency_key: None,
    };
    let err = wa
        .send_part(&ChatId::new(CUSTOMER), &part)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert_eq!(err.delivery(), Delivery::MaybeSent);
}
