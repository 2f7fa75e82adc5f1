//! The registry entry: environment variables, building from credentials, the parser.

mod common;

use common::*;
use connector_avito::{ENTRY, Grant};
use messenger_core::registry::Credentials;
use messenger_core::webhook::WebhookRequest;
use messenger_core::{ErrorKind, Messenger, Platform};
use serde_json::json;

#[test]
fn the_entry_names_its_variables() {
    assert_eq!(ENTRY.platform, Platform::Avito);
    let vars: Vec<(&str, &str, bool)> = ENTRY
        .env
        .iter()
        .map(|v| (v.name, v.key, v.required))
        .collect();
    assert_eq!(
        vars,
        [
            ("AVITO_CLIENT_ID", "client_id", true),
            ("AVITO_CLIENT_SECRET", "client_secret", true),
            ("AVITO_API_URL", "base_url", false),
            ("AVITO_OAUTH_URL", "oauth_url", false),
            ("AVITO_WEBHOOK_TOKEN", "webhook_token", false),
            ("AVITO_REFRESH_TOKEN", "refresh_token", false),
        ]
    );
    let err = ENTRY.credentials_from_env(|_| None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("AVITO_CLIENT_ID"), "{err}");
    assert!(err.to_string().contains("AVITO_CLIENT_SECRET"), "{err}");
}

#[tokio::test]
async fn an_account_built_from_credentials_uses_them_all() {
    let mut server = mockito::Server::new_async().await;
    let refresh = token_endpoint(&mut server, &refresh_form("Env-Refresh"))
        .with_body(token_answer_refresh(ACCESS, "Rotated", 86_400))
        .expect(1)
        .create_async()
        .await;
    let me = api(&mut server, "GET", "/core/v1/accounts/self")
        .with_body(json!({"id": USER, "name": "Магазин"}).to_string())
        .expect(1)
        .create_async()
        .await;
    let credentials = Credentials::new()
        .with("client_id", CLIENT_ID)
        .with("client_secret", CLIENT_SECRET)
        .with("base_url", server.url())
        .with("webhook_token", "entry-token")
        .with("refresh_token", "Env-Refresh");
    let avito = connector_avito::from_credentials(&credentials).unwrap();
    assert_eq!(avito.config().grant(), Grant::AuthorizationCode);
    let account = (ENTRY.build)(
        &credentials,
        &messenger_core::registry::AccountStores::new(),
    )
    .unwrap();
    assert_eq!(account.connect().await.unwrap().id.as_str(), "94235311");
    refresh.assert_async().await;
    me.assert_async().await;
    let body = delivery(customer_message("m1", "text", json!({"text": "hi"})));
    let mut request = WebhookRequest::post(body.clone());
    request.query = Some("token=entry-token".into());
    let accepted = account.handle_webhook(&request).await.unwrap();
    assert_eq!(accepted.events, (ENTRY.parse)(body.as_bytes()).unwrap());
    request.query = Some("token=other".into());
    assert_eq!(
        account.handle_webhook(&request).await.unwrap_err().kind(),
        ErrorKind::WebhookRejected
    );
}

#[tokio::test]
async fn a_rotated_refresh_token_goes_to_the_shared_token_store() {
    use messenger_core::oauth::{MemoryTokenStore, TokenStore};
    use messenger_core::registry::AccountStores;
    use std::sync::Arc;

    let mut server = mockito::Server::new_async().await;
    let _refresh = token_endpoint(&mut server, &refresh_form("Env-Refresh"))
        .with_body(token_answer_refresh(ACCESS, "Rotated", 86_400))
        .expect(1)
        .create_async()
        .await;
    let _me = api(&mut server, "GET", "/core/v1/accounts/self")
        .with_body(json!({"id": USER, "name": "Магазин"}).to_string())
        .create_async()
        .await;
    let credentials = Credentials::new()
        .with("client_id", CLIENT_ID)
        .with("client_secret", CLIENT_SECRET)
        .with("base_url", server.url())
        .with("refresh_token", "Env-Refresh");
    // The server's store: where the flow kept the first refresh token, and where every
    // rotation must go so that a restart keeps the connection.
    let store = Arc::new(MemoryTokenStore::default());
    let stores = AccountStores::new()
        .account("shop-17")
        .tokens(store.clone());
    let account = (ENTRY.build)(&credentials, &stores).unwrap();
    account.connect().await.unwrap();
    let saved = store
        .load(&"shop-17".into())
        .await
        .unwrap()
        .expect("the rotation was saved under the account's key");
    assert_eq!(
        saved.refresh_token.map(|t| t.expose_str().to_owned()),
        Some("Rotated".to_owned())
    );
}
