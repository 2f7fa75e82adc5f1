//! Connection: the token grants' exact forms, `accounts/self`, the authorization-code flow end
//! to end, refresh before expiry, refresh once on 401/403 then `Unauthorized`, rotations saved,
//! one refresh for many concurrent callers.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use connector_avito::{AvitoConfig, Grant};
use messenger_core::oauth::{MemoryTokenStore, OAuthTokens, TokenStore};
use messenger_core::{
    AccountId, ConnectionInput, ConnectionStep, ErrorKind, Messenger, OutgoingMessage, Platform,
};
use serde_json::json;

#[tokio::test]
async fn client_credentials_connect_resolves_the_user_id_and_caches_the_token() {
    let mut server = mockito::Server::new_async().await;
    let token = grant(&mut server).expect(1).create_async().await;
    let me = api(&mut server, "GET", "/core/v1/accounts/self")
        .match_header("accept", "application/json")
        .with_body(
            json!({"id": USER, "name": "Магазин", "email": "shop@example.invalid",
                "phone": "71112223344", "profile_url": "https://avito.ru/user/x/profile"})
            .to_string(),
        )
        .expect(2)
        .create_async()
        .await;
    let avito = AvitoConfig::new(CLIENT_ID, CLIENT_SECRET)
        .base_url(server.url())
        .build()
        .unwrap();
    assert_eq!(avito.config().grant(), Grant::ClientCredentials);
    let info = within(avito.connect()).await.unwrap();
    assert_eq!(info.platform, Platform::Avito);
    assert_eq!(info.id.as_str(), "94235311");
    assert_eq!(info.name.as_deref(), Some("Магазин"));
    assert_eq!(within(avito.user_id()).await.unwrap(), USER);
    // A second connect reuses the token.
    within(avito.connect()).await.unwrap();
    token.assert_async().await;
    me.assert_async().await;
    // The client-credentials flow is a plain connect.
    let step = within(avito.connection_flow().start()).await.unwrap();
    assert!(matches!(step, ConnectionStep::Done(a) if a.id.as_str() == "94235311"));
}

#[tokio::test]
async fn wrong_client_credentials_say_what_to_check() {
    let mut server = mockito::Server::new_async().await;
    token_endpoint(&mut server, &client_credentials_form())
        .with_status(400)
        .with_body(
            r#"{"error":"invalid_client","error_description":"Client authentication failed"}"#,
        )
        .create_async()
        .await;
    let avito = config(&server).build().unwrap();
    let err = within(avito.connect()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert!(err.to_string().contains("AVITO_CLIENT_SECRET"), "{err}");
    assert!(!err.to_string().contains(CLIENT_SECRET));
}

#[tokio::test]
async fn authorization_code_flow_end_to_end_with_the_state_checked() {
    let mut server = mockito::Server::new_async().await;
    let store = Arc::new(MemoryTokenStore::new());
    let avito = AvitoConfig::new(CLIENT_ID, CLIENT_SECRET)
        .base_url(server.url())
        .authorization_code()
        .account_key("shop-1")
        .token_store(store.clone())
        .build()
        .unwrap();
    let exchange = token_endpoint(
        &mut server,
        &form(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("code", "Auth-Code/42+x"),
        ]),
    )
    .with_body(token_answer_refresh(
        "Access-From-Code",
        "Refresh-1",
        86_400,
    ))
    .expect(1)
    .create_async()
    .await;
    let me = api_as(
        &mut server,
        "GET",
        "/core/v1/accounts/self",
        "Access-From-Code",
    )
    .with_body(json!({"id": USER, "name": "Магазин"}).to_string())
    .expect(1)
    .create_async()
    .await;

    let flow = avito.connection_flow();
    assert_eq!(flow.platform(), Platform::Avito);
    let ConnectionStep::OpenUrl { url, state } = within(flow.start()).await.unwrap() else {
        panic!("expected OpenUrl");
    };
    // The consent page under the (sandbox-style) base URL, the parameters in Avito's order.
    assert_eq!(
        url.as_str(),
        format!(
            "{}/oauth?response_type=code&pro_users_flow=true&client_id={CLIENT_ID}&scope=messenger%3Aread%2Cmessenger%3Awrite%2Cuser%3Aread&state={state}",
            server.url()
        )
    );
    let ConnectionStep::EnterCode { prompt } = within(flow.submit(ConnectionInput::Continue))
        .await
        .unwrap()
    else {
        panic!("expected EnterCode");
    };
    assert!(!prompt.is_empty());
    // A redirect with another state is refused, and no code is exchanged.
    let forged = format!(
        "https://crm.example/cb/avito?code=Auth-Code%2F42%2Bx&state={}",
        "0".repeat(64)
    );
    let err = within(flow.submit(ConnectionInput::text(forged)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert!(store.is_empty());
    // The redirect the browser reached: exchanged, saved, connected.
    let redirect = format!("https://crm.example/cb/avito?code=Auth-Code%2F42%2Bx&state={state}");
    let ConnectionStep::Done(account) = within(flow.submit(ConnectionInput::text(redirect)))
        .await
        .unwrap()
    else {
        panic!("expected Done");
    };
    assert_eq!(account.id.as_str(), "94235311");
    exchange.assert_async().await;
    me.assert_async().await;
    let saved = store.get(&AccountId::from("shop-1")).unwrap();
    assert_eq!(saved.access_token.expose_str(), "Access-From-Code");
    assert_eq!(saved.refresh_token.unwrap().expose_str(), "Refresh-1");
    assert_eq!(
        saved.scope.as_deref(),
        Some("messenger:read,messenger:write")
    );
}

#[tokio::test]
async fn without_tokens_an_app_account_asks_for_the_flow() {
    let server = mockito::Server::new_async().await;
    let avito = config(&server).authorization_code().build().unwrap();
    let err = within(avito.send(&OutgoingMessage::text(CHAT, "x")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert!(err.to_string().contains("authorization flow"), "{err}");
}

#[tokio::test]
async fn refreshes_before_expiry_and_saves_the_rotation_first() {
    let mut server = mockito::Server::new_async().await;
    let store = Arc::new(MemoryTokenStore::new());
    // The seeded refresh token gives a token that is within the 5-minute margin after a second.
    let first = token_endpoint(&mut server, &refresh_form("Seed-Refresh"))
        .with_body(token_answer_refresh("Access-1", "Refresh-1", 301))
        .expect(1)
        .create_async()
        .await;
    let second = token_endpoint(&mut server, &refresh_form("Refresh-1"))
        .with_body(token_answer_refresh("Access-2", "Refresh-2", 86_400))
        .expect(1)
        .create_async()
        .await;
    let send1 = api_as(
        &mut server,
        "POST",
        &account_path("v1", &format!("chats/{CHAT}/messages")),
        "Access-1",
    )
    .with_body(sent("a1"))
    .expect(1)
    .create_async()
    .await;
    let send2 = api_as(
        &mut server,
        "POST",
        &account_path("v1", &format!("chats/{CHAT}/messages")),
        "Access-2",
    )
    .with_body(sent("a2"))
    .expect(1)
    .create_async()
    .await;
    let avito = config(&server)
        .refresh_token("Seed-Refresh")
        .account_key("shop-1")
        .token_store(store.clone())
        .build()
        .unwrap();
    within(avito.send(&OutgoingMessage::text(CHAT, "one")))
        .await
        .unwrap();
    assert_eq!(
        store
            .get(&AccountId::from("shop-1"))
            .unwrap()
            .refresh_token
            .unwrap()
            .expose_str(),
        "Refresh-1"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    within(avito.send(&OutgoingMessage::text(CHAT, "two")))
        .await
        .unwrap();
    first.assert_async().await;
    second.assert_async().await;
    send1.assert_async().await;
    send2.assert_async().await;
    let saved = store.get(&AccountId::from("shop-1")).unwrap();
    assert_eq!(saved.refresh_token.unwrap().expose_str(), "Refresh-2");
    assert_eq!(saved.access_token.expose_str(), "Access-2");
}

/// A store holding tokens of an earlier process: an access token Avito no longer takes.
async fn stored(store: &MemoryTokenStore, access: &str, refresh: &str) {
    store
        .save(
            &AccountId::from("shop-1"),
            &OAuthTokens::new(access)
                .with_refresh_token(refresh)
                .expiring_in(Duration::from_secs(20 * 3600)),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_refused_token_is_refreshed_once_then_the_call_is_repeated() {
    let mut server = mockito::Server::new_async().await;
    let store = Arc::new(MemoryTokenStore::new());
    stored(&store, "Stale-Access", "Refresh-0").await;
    let path = account_path("v1", &format!("chats/{CHAT}/read"));
    let refused = api_as(&mut server, "POST", &path, "Stale-Access")
        .with_status(403)
        .with_body(r#"{"error":{"code":403,"message":"Forbidden"}}"#)
        .expect(1)
        .create_async()
        .await;
    let refresh = token_endpoint(&mut server, &refresh_form("Refresh-0"))
        .with_body(token_answer_refresh("Fresh-Access", "Refresh-1", 86_400))
        .expect(1)
        .create_async()
        .await;
    let accepted = api_as(&mut server, "POST", &path, "Fresh-Access")
        .with_body(r#"{"ok":true}"#)
        .expect(1)
        .create_async()
        .await;
    let avito = config(&server)
        .authorization_code()
        .account_key("shop-1")
        .token_store(store.clone())
        .build()
        .unwrap();
    within(avito.mark_read(&CHAT.into(), &"m".into()))
        .await
        .unwrap();
    refused.assert_async().await;
    refresh.assert_async().await;
    accepted.assert_async().await;
    assert_eq!(
        store
            .get(&AccountId::from("shop-1"))
            .unwrap()
            .refresh_token
            .unwrap()
            .expose_str(),
        "Refresh-1"
    );
}

#[tokio::test]
async fn refused_again_after_the_refresh_is_unauthorized_with_advice() {
    let mut server = mockito::Server::new_async().await;
    let store = Arc::new(MemoryTokenStore::new());
    stored(&store, "Stale-Access", "Refresh-0").await;
    let path = account_path("v1", &format!("chats/{CHAT}/messages"));
    let calls = server
        .mock("POST", path.as_str())
        .with_status(401)
        .with_body(r#"{"error":{"code":401,"message":"Unauthorized"}}"#)
        .expect(2)
        .create_async()
        .await;
    let refresh = token_endpoint(&mut server, &refresh_form("Refresh-0"))
        .with_body(token_answer_refresh("Fresh-Access", "Refresh-1", 86_400))
        .expect(1)
        .create_async()
        .await;
    let avito = config(&server)
        .refresh_token("Env-Refresh-Ignored")
        .account_key("shop-1")
        .token_store(store.clone())
        .build()
        .unwrap();
    let err = within(avito.send(&OutgoingMessage::text(CHAT, "x")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.platform_code(), Some("401"));
    assert!(err.to_string().contains("refreshed once"), "{err}");
    calls.assert_async().await;
    refresh.assert_async().await;
    // Right away again: the fresh token is not refreshed a second time.
    let err = within(avito.send(&OutgoingMessage::text(CHAT, "x")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    refresh.assert_async().await;
}

#[tokio::test]
async fn a_refused_refresh_token_says_to_connect_again() {
    let mut server = mockito::Server::new_async().await;
    token_endpoint(&mut server, &refresh_form("Revoked"))
        .with_status(400)
        .with_body(r#"{"error":"invalid_grant"}"#)
        .expect(1)
        .create_async()
        .await;
    let avito = config(&server).refresh_token("Revoked").build().unwrap();
    let err = within(avito.mark_read(&CHAT.into(), &"m".into()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert!(
        err.to_string().contains("connect the account again"),
        "{err}"
    );
    assert!(!err.to_string().contains("Revoked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_refusals_cause_one_refresh() {
    let mut server = mockito::Server::new_async().await;
    let store = Arc::new(MemoryTokenStore::new());
    stored(&store, "Stale-Access", "Refresh-0").await;
    let path = account_path("v1", &format!("chats/{CHAT}/messages"));
    let refused = api_as(&mut server, "POST", &path, "Stale-Access")
        .with_status(403)
        .with_body(r#"{"error":{"code":403,"message":"Forbidden"}}"#)
        .expect_at_least(1)
        .create_async()
        .await;
    let refresh = token_endpoint(&mut server, &refresh_form("Refresh-0"))
        .with_body(token_answer_refresh("Fresh-Access", "Refresh-1", 86_400))
        .expect(1)
        .create_async()
        .await;
    let accepted = api_as(&mut server, "POST", &path, "Fresh-Access")
        .with_body(sent("m1"))
        .expect(24)
        .create_async()
        .await;
    let avito = config(&server)
        .authorization_code()
        .account_key("shop-1")
        .token_store(store.clone())
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let avito = avito.clone();
            tokio::spawn(async move {
                avito
                    .send(&OutgoingMessage::text(CHAT, format!("message {i}")))
                    .await
            })
        })
        .collect();
    for task in tasks {
        within(task).await.unwrap().unwrap();
    }
    refused.assert_async().await;
    refresh.assert_async().await;
    accepted.assert_async().await;
}

#[tokio::test]
async fn a_payment_refusal_costs_no_refresh() {
    let mut server = mockito::Server::new_async().await;
    let tokens = grant(&mut server).expect(1).create_async().await;
    api(
        &mut server,
        "POST",
        &account_path("v1", &format!("chats/{CHAT}/messages")),
    )
    .with_status(402)
    .with_body(r#"{"error":{"code":402,"message":"Payment required"}}"#)
    .expect(1)
    .create_async()
    .await;
    let avito = config(&server).build().unwrap();
    let err = within(avito.send(&OutgoingMessage::text(CHAT, "x")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.platform_code(), Some("402"));
    assert!(err.to_string().contains("paid tier"), "{err}");
    tokens.assert_async().await;
}
