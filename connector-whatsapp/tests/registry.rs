//! The connector's registry entry: the environment variables it reads, building an account
//! from credentials (a sandbox-like base URL with a path prefix included), and its parser.

mod common;

use common::*;
use connector_whatsapp::ENTRY;
use messenger_core::registry::{BASE_URL, Credentials};
use messenger_core::{ErrorKind, Messenger, Platform};
use serde_json::json;

#[test]
fn the_entry_names_its_platform_and_variables() {
    assert_eq!(ENTRY.platform, Platform::WhatsApp);
    let vars: Vec<(&str, &str, bool)> = ENTRY
        .env
        .iter()
        .map(|v| (v.name, v.key, v.required))
        .collect();
    assert_eq!(
        vars,
        [
            ("WHATSAPP_TOKEN", "token", true),
            ("WHATSAPP_PHONE_NUMBER_ID", "phone_number_id", true),
            ("WHATSAPP_APP_SECRET", "app_secret", false),
            ("WHATSAPP_VERIFY_TOKEN", "verify_token", false),
            ("WHATSAPP_API_URL", BASE_URL, false),
        ]
    );
    for var in ENTRY.env {
        assert!(!var.help.is_empty(), "{}", var.name);
    }
}

#[test]
fn missing_required_variables_are_named() {
    let err = ENTRY
        .credentials_from_env(|name| (name == "WHATSAPP_TOKEN").then(|| TOKEN.to_owned()))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        err.to_string().contains("WHATSAPP_PHONE_NUMBER_ID"),
        "{err}"
    );
    assert!(!err.to_string().contains(TOKEN));
    // Credentials without a required key fail to build, naming the key.
    let err = match (ENTRY.build)(
        &Credentials::new().with("phone_number_id", PHONE_ID),
        &messenger_core::registry::AccountStores::new(),
    ) {
        Err(e) => e,
        Ok(_) => panic!("a connector without a token"),
    };
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("token"), "{err}");
}

#[tokio::test]
async fn built_from_the_environment_it_connects_and_verifies_webhooks() {
    let mut server = mockito::Server::new_async().await;
    let connect = server
        .mock("GET", "/whatsapp/v25.0/106540352242922")
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_query(mockito::Matcher::Any)
        .with_body(json!({"id": PHONE_ID, "verified_name": "Shop"}).to_string())
        .expect(1)
        .create_async()
        .await;
    let base = format!("{}/whatsapp", server.url());
    let env = |name: &str| match name {
        "WHATSAPP_TOKEN" => Some(TOKEN.to_owned()),
        "WHATSAPP_PHONE_NUMBER_ID" => Some(PHONE_ID.to_owned()),
        "WHATSAPP_APP_SECRET" => Some(APP_SECRET.to_owned()),
        "WHATSAPP_VERIFY_TOKEN" => Some(VERIFY_TOKEN.to_owned()),
        "WHATSAPP_API_URL" => Some(base.clone()),
        _ => None,
    };
    let credentials = ENTRY.credentials_from_env(env).unwrap();
    let debug = format!("{credentials:?}");
    for secret in [TOKEN, APP_SECRET, VERIFY_TOKEN] {
        assert!(!debug.contains(secret), "{debug}");
    }
    let wa = (ENTRY.build)(
        &credentials,
        &messenger_core::registry::AccountStores::new(),
    )
    .unwrap();
    assert_eq!(wa.platform(), Platform::WhatsApp);
    assert_eq!(wa.connect().await.unwrap().id.as_str(), PHONE_ID);
    connect.assert_async().await;
    // The app secret and the verify token were taken.
    let body = inbound_text(CUSTOMER, "wamid.A", 1_749_416_383, "hello");
    assert_eq!(
        wa.handle_webhook(&signed(&body))
            .await
            .unwrap()
            .events
            .len(),
        1
    );
    let handshake = messenger_core::webhook::WebhookRequest::get(format!(
        "hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=42"
    ));
    assert_eq!(
        &wa.handle_webhook(&handshake).await.unwrap().response.body[..],
        b"42"
    );
}

#[test]
fn the_entrys_parser_is_the_connectors_parser() {
    let body = inbound_text(CUSTOMER, "wamid.A", 1_749_416_383, "hello");
    assert_eq!(
        (ENTRY.parse)(body.as_bytes()).unwrap(),
        connector_whatsapp::parse(body.as_bytes()).unwrap()
    );
    let over = vec![b' '; connector_whatsapp::DEFAULT_MAX_WEBHOOK_BODY + 1];
    assert_eq!(
        (ENTRY.parse)(&over).unwrap_err().kind(),
        ErrorKind::TooLarge
    );
}

#[tokio::test]
async fn the_account_reads_the_reply_windows_of_the_shared_store() {
    use messenger_core::ChatId;
    use messenger_core::plan::ReplyWindow;
    use messenger_core::registry::AccountStores;
    use messenger_core::window::{MemoryReplyWindowStore, ReplyWindowStore};
    use std::sync::Arc;

    // Another process (a server node) took the customer's message in and recorded it.
    let store = Arc::new(MemoryReplyWindowStore::default());
    let customer = ChatId::new("16505551234");
    store
        .record_inbound(Platform::WhatsApp, &customer, chrono::Utc::now())
        .await
        .unwrap();
    let credentials = Credentials::new()
        .with("token", TOKEN)
        .with("phone_number_id", PHONE_ID);
    let shared = (ENTRY.build)(&credentials, &AccountStores::new().reply_windows(store)).unwrap();
    assert_eq!(
        shared.reply_window(&customer).await.unwrap(),
        ReplyWindow::Open
    );
    // Built without it, the account has seen nothing of that customer.
    let alone = (ENTRY.build)(&credentials, &AccountStores::new()).unwrap();
    assert_eq!(
        alone.reply_window(&customer).await.unwrap(),
        ReplyWindow::Unknown
    );
}
