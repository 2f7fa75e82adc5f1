//! The registry entry: environment variables, building from credentials, the parser.

mod common;

use common::{TOKEN, ok, path};
use connector_telegram::{ENTRY, SECRET_HEADER};
use messenger_core::registry::Credentials;
use messenger_core::webhook::WebhookRequest;
use messenger_core::{ErrorKind, Messenger, Platform};
use serde_json::json;

#[test]
fn the_entry_names_its_variables() {
    assert_eq!(ENTRY.platform, Platform::Telegram);
    let vars: Vec<(&str, &str, bool)> = ENTRY
        .env
        .iter()
        .map(|v| (v.name, v.key, v.required))
        .collect();
    assert_eq!(
        vars,
        [
            ("TELEGRAM_TOKEN", "token", true),
            ("TELEGRAM_API_URL", "base_url", false),
            ("TELEGRAM_WEBHOOK_SECRET", "webhook_secret", false),
        ]
    );
    let err = ENTRY.credentials_from_env(|_| None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("TELEGRAM_TOKEN"), "{err}");
}

#[tokio::test]
async fn a_bot_built_from_credentials_uses_them_all() {
    let mut server = mockito::Server::new_async().await;
    let me = server
        .mock("POST", path("getMe").as_str())
        .with_body(ok(
            json!({"id": 7000000001_i64, "is_bot": true, "first_name": "MyBot"}),
        ))
        .expect(1)
        .create_async()
        .await;
    let credentials = Credentials::new()
        .with("token", TOKEN)
        .with("base_url", server.url())
        .with("webhook_secret", "entry_secret");
    let bot = (ENTRY.build)(
        &credentials,
        &messenger_core::registry::AccountStores::new(),
    )
    .unwrap();
    // The base URL: the call reached the test server with the token in the path.
    assert_eq!(bot.connect().await.unwrap().id.as_str(), "7000000001");
    me.assert_async().await;
    // The webhook secret.
    let update = r#"{"update_id":1,"poll":{"id":"p"}}"#;
    let accepted = bot
        .handle_webhook(&WebhookRequest::post(update).header(SECRET_HEADER, "entry_secret"))
        .await
        .unwrap();
    assert_eq!(accepted.events.len(), 1);
    let err = bot
        .handle_webhook(&WebhookRequest::post(update).header(SECRET_HEADER, "other"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WebhookRejected);
    // Without a secret, webhooks fail closed.
    let bot = (ENTRY.build)(
        &Credentials::new().with("token", TOKEN),
        &messenger_core::registry::AccountStores::new(),
    )
    .unwrap();
    let err = bot
        .handle_webhook(&WebhookRequest::post(update).header(SECRET_HEADER, ""))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WebhookRejected);
    // Without a token, nothing is built.
    let err = (ENTRY.build)(
        &Credentials::new(),
        &messenger_core::registry::AccountStores::new(),
    )
    .err()
    .unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn the_entry_parses_with_the_one_parser() {
    let body = br#"{"update_id":1,"message":{"message_id":5,"date":1767225600,
        "chat":{"id":42,"type":"private"},"text":"hi"}}"#;
    assert_eq!(
        (ENTRY.parse)(body).unwrap(),
        connector_telegram::parse(body).unwrap()
    );
}
