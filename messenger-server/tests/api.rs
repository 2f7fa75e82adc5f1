//! The operator API end to end, on the sandbox: sign-in, conversations by grant, events, the
//! planner's dry run, sends with the client's idempotency key, last-seen marks, media by right,
//! webhook intake verified by the connector, administration, personal data, the operator's
//! suspension, metrics and readiness.

mod common;

use std::time::Duration;

use base64::Engine;
use common::*;
use messenger_core::Platform;
use messenger_sandbox::{AccountPatch, CustomerMessage, MediaUpload, MessageKind};
use messenger_server::config::Intake;
use reqwest::StatusCode;
use serde_json::json;

/// A 1x1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x04, 0x00, 0x00, 0x00, 0xb5, 0x1c, 0x0c,
    0x02, 0x00, 0x00, 0x00, 0x0b, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x64, 0x60, 0x00, 0x00,
    0x00, 0x06, 0x00, 0x02, 0x30, 0x81, 0xd0, 0x2f, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44,
    0xae, 0x42, 0x60, 0x82,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_api_end_to_end() {
    tokio::time::timeout(Duration::from_secs(240), run())
        .await
        .expect("the test timed out");
}

async fn run() {
    let world = World::new().await;
    let db = Database::sqlite();
    let tg = world.account(Platform::Telegram, Intake::Poll);
    let wa = world.account(Platform::WhatsApp, Intake::Webhook);
    let vk = world.account(Platform::Vk, Intake::Poll);
    let (tg_name, wa_name, vk_name) = (tg.name.clone(), wa.name.clone(), vk.name.clone());
    let config = world.config(&db, vec![tg, wa, vk], &[&tg_name, &wa_name]);
    let server = world.start(config).await;
    let url = server.url();
    let owner = Api::signed_in(&url, OWNER).await;
    let agent = Api::signed_in(&url, AGENT).await;
    let sandbox = &world.sandbox;
    let demo_tg = world.demo.account(Platform::Telegram).unwrap();
    let demo_wa = world.demo.account(Platform::WhatsApp).unwrap();
    let demo_vk = world.demo.account(Platform::Vk).unwrap();

    // Who am I: the agent holds rights on two accounts, reply but not manage.
    let me = agent.ok("/api/me").await;
    assert_eq!(me["employee"]["role"], "agent");
    let accounts = me["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 2);
    assert!(
        accounts
            .iter()
            .all(|a| a["permissions"]["reply"] == true && a["permissions"]["manage"] == false)
    );
    assert_eq!(
        owner.ok("/api/me").await["accounts"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let tg_id = owner.account_id(&tg_name).await;
    let wa_id = owner.account_id(&wa_name).await;
    let vk_id = owner.account_id(&vk_name).await;
    assert_eq!(
        owner.ok(&format!("/api/accounts/{wa_id}")).await["account"]["intake"],
        "webhook"
    );
    sandbox
        .update_account(
            &demo_wa.account.id,
            &AccountPatch {
                webhook_url: Some(format!("{url}/webhooks/whatsapp/{wa_id}")),
                ..AccountPatch::default()
            },
        )
        .unwrap();

    // Events by a one-use ticket; the ticket does not open a second stream.
    let (_, ticket) = agent.post("/api/auth/ticket", json!({})).await;
    let ticket_url = format!("{url}{}", ticket["url"].as_str().unwrap());
    let mut events = Events::open(&agent.http, &ticket_url, None).await;
    events.next_named("ready").await;
    let again = agent.http.get(&ticket_url).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);

    // A customer writes on Telegram (long-polled by this node): live to the agent.
    sandbox
        .customer_sends(
            &demo_tg.account.id,
            &demo_tg.customer.id,
            &CustomerMessage::text("hello from telegram"),
        )
        .unwrap();
    let n = events.next_named("new_message").await;
    assert_eq!(n["account"].as_i64(), Some(tg_id));
    let conversation = n["conversation"].as_i64().unwrap();
    let list = agent.ok("/api/conversations").await;
    let row = list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == conversation)
        .unwrap()
        .clone();
    assert_eq!(row["unread"], 1);
    assert_eq!(row["platform"], "telegram");
    let history = agent
        .ok(&format!("/api/conversations/{conversation}/messages"))
        .await;
    assert_eq!(
        history["messages"][0]["content"]["text"],
        "hello from telegram"
    );
    assert_eq!(history["messages"][0]["direction"], "inbound");

    // The planner's dry run: a text over Telegram's 4096 units is split, and says so.
    let long = "Ваш заказ готов к выдаче. ".repeat(200);
    let (status, plan) = agent
        .post(
            &format!("/api/conversations/{conversation}/plan"),
            json!({"draft": {"kind": "text", "text": long}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["sendable"], true);
    assert!(plan["parts"].as_array().unwrap().len() >= 2);
    assert_eq!(plan["downgrades"].as_array().unwrap().len(), 1);

    // Send with the client's key: once, however often the request is repeated.
    let send =
        |key: &str| json!({"idempotency_key": key, "draft": {"kind": "text", "text": "reply one"}});
    let (status, first) = agent
        .post(
            &format!("/api/conversations/{conversation}/messages"),
            send("k-1"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let repeat = agent
        .http
        .post(format!("{url}/api/conversations/{conversation}/messages"))
        .bearer_auth(agent.token.as_ref().unwrap())
        .json(&send("k-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(repeat.status(), StatusCode::OK);
    assert_eq!(repeat.headers()["idempotent-replayed"], "true");
    let repeat: serde_json::Value = repeat.json().await.unwrap();
    assert_eq!(repeat["id"], first["id"]);
    let (status, err) = agent
        .post(
            &format!("/api/conversations/{conversation}/messages"),
            json!({"draft": {"kind": "text", "text": "no key"}}),
        )
        .await;
    assert_eq!(
        (status, err["error"]["kind"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_input"))
    );
    let status_event = events.next_named("status").await;
    assert_eq!(status_event["conversation"].as_i64(), Some(conversation));
    eventually("the customer has the reply once", || async {
        sandbox
            .received(&demo_tg.account.id, &demo_tg.customer.id)
            .unwrap()
            .iter()
            .filter(|m| {
                m.text
                    .as_deref()
                    .is_some_and(|t| t.starts_with("reply one"))
            })
            .count()
            == 1
    })
    .await;
    eventually("the outbox row is sent", || async {
        agent.ok(&format!("/api/outbox/{}", first["id"])).await["state"] == "sent"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = sandbox
        .received(&demo_tg.account.id, &demo_tg.customer.id)
        .unwrap();
    assert_eq!(
        received
            .iter()
            .filter(|m| m
                .text
                .as_deref()
                .is_some_and(|t| t.starts_with("reply one")))
            .count(),
        1
    );

    // Last-seen marks.
    let (status, _) = agent
        .post(
            &format!("/api/conversations/{conversation}/read"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let list = agent.ok("/api/conversations?unread_only=true").await;
    assert!(
        list["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["id"] != conversation)
    );

    // Media by right: the customer's photo, streamed back.
    sandbox
        .customer_sends(
            &demo_tg.account.id,
            &demo_tg.customer.id,
            &CustomerMessage::media(
                MediaUpload::new(MessageKind::Image, PNG.to_vec()).mime_type("image/png"),
            ),
        )
        .unwrap();
    events.next_named("new_message").await;
    let history = agent
        .ok(&format!("/api/conversations/{conversation}/messages"))
        .await;
    let photo = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["content"]["kind"] == "image")
        .unwrap()
        .clone();
    let media = agent
        .http
        .get(format!("{url}/api/messages/{}/media", photo["id"]))
        .bearer_auth(agent.token.as_ref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(media.status(), StatusCode::OK);
    assert_eq!(media.headers()["content-disposition"], "attachment");
    assert_eq!(&media.bytes().await.unwrap()[..], PNG);

    // WhatsApp by webhook: the sandbox signs, the connector verifies, the agent sees it.
    sandbox
        .customer_sends(
            &demo_wa.account.id,
            &demo_wa.customer.id,
            &CustomerMessage::text("hello from whatsapp"),
        )
        .unwrap();
    let n = events.next_named("new_message").await;
    assert_eq!(n["account"].as_i64(), Some(wa_id));
    // A forged delivery is refused by the connector before anything is stored.
    let forged = reqwest::Client::new()
        .post(format!("{url}/webhooks/whatsapp/{wa_id}"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", format!("sha256={}", "0".repeat(64)))
        .body(r#"{"object":"whatsapp_business_account","entry":[]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let unknown = reqwest::Client::new()
        .post(format!("{url}/webhooks/telegram/999999"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    // The WhatsApp handshake: answered with the connector's challenge, or refused by it.
    let handshake = reqwest::Client::new()
        .get(format!("{url}/webhooks/whatsapp/{wa_id}?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=123"))
        .send()
        .await
        .unwrap();
    assert!(handshake.status().is_client_error());

    // Ungranted: 403 and no data.
    sandbox
        .customer_sends(
            &demo_vk.account.id,
            &demo_vk.customer.id,
            &CustomerMessage::text("hello from vk"),
        )
        .unwrap();
    let vk_conversation = owner.conversation_of(vk_id).await;
    for (method, path, body) in [
        (
            reqwest::Method::GET,
            format!("/api/conversations/{vk_conversation}"),
            None,
        ),
        (
            reqwest::Method::GET,
            format!("/api/conversations/{vk_conversation}/messages"),
            None,
        ),
        (
            reqwest::Method::POST,
            format!("/api/conversations/{vk_conversation}/messages"),
            Some(json!({"idempotency_key": "x", "draft": {"kind": "text", "text": "not mine"}})),
        ),
        (reqwest::Method::GET, format!("/api/accounts/{vk_id}"), None),
    ] {
        let (status, body) = agent.call(method, &path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(body["error"]["kind"], "forbidden");
        assert!(!body.to_string().contains("hello from vk"));
    }
    let list = agent.ok("/api/conversations").await;
    assert!(
        list["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["account"] != vk_id)
    );

    // Administration: a viewer with a login and a read grant on VK.
    let (status, viewer) = owner
        .post("/api/employees", json!({"name": "Gleb", "role": "viewer", "login": "gleb", "password": "gleb-secret-pass"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{viewer}");
    let viewer_id = viewer["id"].as_i64().unwrap();
    let (status, _) = owner
        .call(
            reqwest::Method::PUT,
            &format!("/api/employees/{viewer_id}/grants/{vk_id}"),
            Some(json!({"read": true, "reply": true, "manage": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = agent
        .post("/api/employees", json!({"name": "X", "role": "agent"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let gleb = Api::signed_in(&url, ("gleb", "gleb-secret-pass")).await;
    gleb.ok(&format!("/api/conversations/{vk_conversation}/messages"))
        .await;
    let (status, _) = gleb
        .post(
            &format!("/api/conversations/{vk_conversation}/messages"),
            json!({"idempotency_key": "g", "draft": {"kind": "text", "text": "viewers only read"}}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a viewer's grant is capped at read"
    );

    // API keys: act as the employee until revoked.
    let agent_id = me["employee"]["id"].as_i64().unwrap();
    let (status, key) = owner
        .post(
            "/api/api-keys",
            json!({"employee": agent_id, "name": "crm sync"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let mut machine = Api::new(&url);
    machine.token = Some(key["key"].as_str().unwrap().to_owned());
    assert_eq!(machine.ok("/api/me").await["auth"], "api_key");
    let (status, _) = owner
        .call(
            reqwest::Method::DELETE,
            &format!("/api/api-keys/{}", key["api_key"]["id"]),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(machine.get("/api/me").await.0, StatusCode::UNAUTHORIZED);

    // Personal data: the owner exports, the agent may not.
    let customer = agent
        .ok(&format!("/api/conversations/{conversation}"))
        .await["customer"]["id"]
        .as_i64()
        .unwrap();
    let export = owner.ok(&format!("/api/customers/{customer}/export")).await;
    assert!(export.to_string().contains("hello from telegram"));
    assert_eq!(
        agent
            .get(&format!("/api/customers/{customer}/export"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert!(
        !owner.ok("/api/processing-log").await["entries"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        owner.ok("/api/acceptance-head").await["seq"]
            .as_i64()
            .unwrap()
            >= 3
    );

    // The operator suspends Telegram: sends are refused before anything is stored.
    let mut operator = Api::new(&url);
    operator.token = Some("operator-token-for-tests".to_owned());
    let (status, _) = operator
        .post("/api/operator/platforms/telegram/suspend", json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        agent
            .post("/api/operator/platforms/telegram/resume", json!({}))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (status, err) = agent
        .post(
            &format!("/api/conversations/{conversation}/messages"),
            json!({"idempotency_key": "k-2", "draft": {"kind": "text", "text": "suspended"}}),
        )
        .await;
    assert_eq!(
        (status, err["error"]["kind"].as_str()),
        (StatusCode::CONFLICT, Some("platform_suspended"))
    );
    let (_, plan) = agent
        .post(
            &format!("/api/conversations/{conversation}/plan"),
            json!({"draft": {"kind": "text", "text": "x"}}),
        )
        .await;
    assert_eq!(
        plan["sendable"], true,
        "the plan is the platform's; the send says why not"
    );
    let (status, _) = operator
        .post("/api/operator/platforms/telegram/resume", json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Media drafts: a plan from the size alone; a send with the bytes.
    let (status, plan) = agent
        .post(
            &format!("/api/conversations/{conversation}/plan"),
            json!({"draft": {"kind": "voice", "media": {"size": 2000, "mime_type": "audio/mpeg", "file_name": "note.mp3"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    let (status, sent) = agent
        .post(
            &format!("/api/conversations/{conversation}/messages"),
            json!({"idempotency_key": "photo-1", "draft": {"kind": "image", "caption": "a dot",
                   "media": {"data": base64::engine::general_purpose::STANDARD.encode(PNG), "mime_type": "image/png", "file_name": "dot.png"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    eventually("the photo reaches the customer", || async {
        sandbox
            .received(&demo_tg.account.id, &demo_tg.customer.id)
            .unwrap()
            .iter()
            .any(|m| m.caption.as_deref() == Some("a dot"))
    })
    .await;

    // Health, readiness, metrics.
    assert_eq!(owner.get("/healthz").await.0, StatusCode::OK);
    let ready = owner.get("/readyz").await;
    assert_eq!(ready.0, StatusCode::OK, "{}", ready.1);
    let metrics = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "messenger_sends_enqueued_total{platform=\"telegram\"} 2",
        "messenger_send_replays_total 1",
        "messenger_webhook_verification_failures_total{platform=\"whatsapp\"} 2",
        "messenger_intake_messages_total{platform=\"telegram\",source=\"poll\"} 2",
        "messenger_intake_messages_total{platform=\"whatsapp\",source=\"webhook\"} 1",
        "messenger_outbox_rows{state=\"sent\",error_kind=\"\"} 2",
        "messenger_outbox_depth 0",
        "messenger_sign_ins_total{outcome=\"ok\"} 3",
        "messenger_workers_alive 2",
        "messenger_poll_leases_held 2",
    ] {
        assert!(
            metrics.contains(needle),
            "metrics lack `{needle}`:\n{metrics}"
        );
    }

    // Signing out ends the session.
    let (status, _) = agent.post("/api/auth/sign-out", json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(agent.get("/api/me").await.0, StatusCode::UNAUTHORIZED);
    server.shutdown(Duration::from_secs(10)).await;
    assert!(
        events.ends_within(Duration::from_secs(5)).await,
        "the event stream ends at shutdown"
    );
}
