//! Accounts through the API: connect with credential references (never in clear), check them
//! against the platform, Avito's OAuth connection flow on the sandbox (the refresh token kept
//! as a secret reference), activation by the owner (the acceptance record), deactivation, and
//! rights on each step.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use messenger_core::Platform;
use messenger_core::registry::BASE_URL;
use messenger_sandbox::CustomerMessage;
use messenger_server::{MemorySecretSink, Server};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_connect_activate_and_deactivate() {
    tokio::time::timeout(Duration::from_secs(180), run())
        .await
        .expect("the test timed out");
}

async fn run() {
    let world = World::new().await;
    let db = Database::sqlite();
    let config = world.config(&db, Vec::new(), &[]);
    let server = Server::builder(config, connectors())
        .resolver(world.secrets.clone())
        .secret_sink(Arc::new(MemorySecretSink(world.secrets.clone())))
        .start()
        .await
        .unwrap();
    let url = server.url();
    let owner = Api::signed_in(&url, OWNER).await;
    let agent = Api::signed_in(&url, AGENT).await;
    let sandbox = &world.sandbox;
    let demo_tg = world.demo.account(Platform::Telegram).unwrap();
    let tg_credentials = sandbox.credentials(&demo_tg.account.id).unwrap();
    let token_ref = world
        .secrets
        .insert("shop-bot-token", tg_credentials.get("token").unwrap());

    // A token in clear is refused, in settings or as a reference; so is a reference the
    // server cannot resolve.
    for body in [
        json!({"platform": "telegram", "display_name": "Shop", "settings": {"token": "123:ABC"}}),
        json!({"platform": "telegram", "display_name": "Shop", "secrets": {"token": "123:ABC"}}),
        json!({"platform": "telegram", "display_name": "Shop", "secrets": {"token": "vault:kv/shop"}}),
    ] {
        let (status, err) = owner.post("/api/accounts", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    }
    let new = json!({
        "platform": "telegram",
        "display_name": "Shop bot",
        "settings": {BASE_URL: tg_credentials.get(BASE_URL).unwrap()},
        "secrets": {"token": token_ref.as_str()},
    });
    assert_eq!(
        agent.post("/api/accounts", new.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, account) = owner.post("/api/accounts", new).await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    assert_eq!(account["state"], "deactivated");
    assert_eq!(account["intake"], "poll");
    let id = account["id"].as_i64().unwrap();

    // Connecting checks the credentials against the platform: the bot's identity.
    assert_eq!(
        agent
            .post(&format!("/api/accounts/{id}/connection"), json!({}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, step) = owner
        .post(&format!("/api/accounts/{id}/connection"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{step}");
    assert_eq!(step["step"], "done");
    assert_eq!(step["account"]["id"], demo_tg.account.id.as_str());

    // Activation: the owner accepts the edition in effect; the record is the evidence.
    let edition = owner.ok("/api/agreement").await["current"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, record) = owner
        .post(
            &format!("/api/accounts/{id}/activate"),
            json!({"edition": edition, "evidence": "ticked the box"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_eq!(record["edition"], edition.as_str());
    let (status, _) = owner
        .post(
            &format!("/api/accounts/{id}/activate"),
            json!({"edition": "1999-01"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an unknown edition is refused"
    );
    // Active: polled, a customer's message arrives.
    sandbox
        .customer_sends(
            &demo_tg.account.id,
            &demo_tg.customer.id,
            &CustomerMessage::text("after activation"),
        )
        .unwrap();
    let conversation = owner.conversation_of(id).await;

    // Deactivated: nothing is sent or taken in.
    let (status, _) = owner
        .post(&format!("/api/accounts/{id}/deactivate"), json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, err) = owner
        .post(
            &format!("/api/conversations/{conversation}/messages"),
            json!({"idempotency_key": "a", "draft": {"kind": "text", "text": "x"}}),
        )
        .await;
    assert_eq!(
        (status, err["error"]["kind"].as_str()),
        (StatusCode::CONFLICT, Some("module_inactive"))
    );
    let (_, plan) = owner
        .post(
            &format!("/api/conversations/{conversation}/plan"),
            json!({"draft": {"kind": "text", "text": "x"}}),
        )
        .await;
    assert_eq!(
        (plan["sendable"].as_bool(), plan["error"]["kind"].as_str()),
        (Some(false), Some("module_inactive"))
    );
    // Rename (manage), and the change shows.
    let (status, _) = owner
        .call(
            reqwest::Method::PATCH,
            &format!("/api/accounts/{id}"),
            Some(json!({"display_name": "Shop bot 2"})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        owner.ok(&format!("/api/accounts/{id}")).await["account"]["display_name"],
        "Shop bot 2"
    );

    // Avito: the OAuth authorization-code flow, on the sandbox's consent page.
    let demo_avito = world.demo.account(Platform::Avito).unwrap();
    let av = sandbox.credentials(&demo_avito.account.id).unwrap();
    let secret_ref = world
        .secrets
        .insert("avito-client-secret", av.get("client_secret").unwrap());
    let (status, account) = owner
        .post(
            "/api/accounts",
            json!({
                "platform": "avito",
                "display_name": "Avito shop",
                "settings": {"client_id": av.get("client_id").unwrap(), BASE_URL: av.get(BASE_URL).unwrap()},
                "secrets": {"client_secret": secret_ref.as_str()},
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    let avito = account["id"].as_i64().unwrap();
    assert_eq!(account["intake"], "webhook");
    let (status, step) = owner
        .post(&format!("/api/accounts/{avito}/connection"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{step}");
    assert_eq!(step["step"], "open_url");
    let consent = step["url"].as_str().unwrap().to_owned();
    assert!(consent.starts_with(av.get(BASE_URL).unwrap()));
    // The user allows access; the platform redirects their browser with the code and state.
    let browser = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = browser.get(&consent).send().await.unwrap();
    assert!(answer.status().is_redirection(), "{}", answer.status());
    let redirect = answer.headers()["location"].to_str().unwrap().to_owned();
    // Another employee cannot finish someone else's flow; a forged redirect is refused.
    assert_eq!(
        agent
            .post(
                &format!("/api/accounts/{avito}/connection/input"),
                json!({"input": redirect})
            )
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, step) = owner
        .post(
            &format!("/api/accounts/{avito}/connection/input"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{step}");
    assert_eq!(step["step"], "enter_code");
    let forged = redirect.replace("state=", "state=0");
    assert!(
        owner
            .post(
                &format!("/api/accounts/{avito}/connection/input"),
                json!({"input": forged})
            )
            .await
            .0
            .is_client_error()
    );
    let (status, step) = owner
        .post(
            &format!("/api/accounts/{avito}/connection/input"),
            json!({"input": redirect}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{step}");
    assert_eq!(step["step"], "done");
    let stored = owner.ok(&format!("/api/accounts/{avito}")).await;
    let refresh = stored["account"]["secrets"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(refresh.starts_with("mem:"), "kept by reference: {refresh}");
    // The flow is over: its input is refused.
    assert_eq!(
        owner
            .post(
                &format!("/api/accounts/{avito}/connection/input"),
                json!({})
            )
            .await
            .0,
        StatusCode::CONFLICT
    );
    // Connected with the kept refresh token: a credentials check now passes through it.
    let (status, step) = owner
        .post(&format!("/api/accounts/{avito}/connection"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{step}");

    // Deleting purges it, with an act (owners only).
    assert_eq!(
        agent
            .post(
                &format!("/api/accounts/{id}/delete"),
                json!({"ground": "x"})
            )
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, act) = owner
        .post(
            &format!("/api/accounts/{id}/delete"),
            json!({"ground": "the business closed the bot"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{act}");
    assert_eq!(act["what"]["accounts"], 1);
    server.shutdown(Duration::from_secs(5)).await;
}
