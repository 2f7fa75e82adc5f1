//! Bad input gets a clear, typed answer and no data: 401 without credentials, 403 without the
//! right, 413 over a body limit, 400 for malformed JSON, 415 for another content type, 404 JSON
//! for unknown routes, 405 JSON for a method a route does not take, 429 for sign-in floods;
//! and every route of the router is in the OpenAPI document, and nothing else.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use messenger_core::Platform;
use messenger_server::config::Intake;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn kind(body: &Value) -> &str {
    body["error"]["kind"].as_str().unwrap_or("<none>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_typed_errors() {
    tokio::time::timeout(Duration::from_secs(120), bad_input())
        .await
        .expect("the test timed out");
}

async fn bad_input() {
    let world = World::new().await;
    let db = Database::sqlite();
    let tg = world.account(Platform::Telegram, Intake::Poll);
    let mut config = world.config(&db, vec![tg], &[]);
    config.limits.api_body_bytes = 64 * 1024;
    config.limits.sign_in_per_address_per_minute = 12;
    config.limits.sign_in_failures_per_login = 3;
    let server = world.start(config).await;
    let url = server.url();
    let anon = Api::new(&url);
    let owner = Api::signed_in(&url, OWNER).await;
    let agent = Api::signed_in(&url, AGENT).await;

    // 401: no token, a malformed header, an unknown token; with WWW-Authenticate.
    for token in [
        None,
        Some("not-a-token"),
        Some("mss_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    ] {
        let mut api = anon.clone();
        api.token = token.map(str::to_owned);
        let (status, body) = api.get("/api/conversations").await;
        assert_eq!(
            (status, kind(&body)),
            (StatusCode::UNAUTHORIZED, "unauthenticated")
        );
        assert!(body.get("conversations").is_none());
    }
    let raw = anon
        .http
        .get(format!("{url}/api/me"))
        .header("authorization", "Basic YW5uYTp4")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(raw.headers()["www-authenticate"], "Bearer");
    assert_eq!(anon.get("/api/events").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        anon.get("/api/events?ticket=mst_forged").await.0,
        StatusCode::UNAUTHORIZED
    );

    // 403 without the right, with nothing of the target in the answer.
    let account = owner.account_id("Telegram demo").await;
    for path in [
        format!("/api/accounts/{account}"),
        "/api/employees".to_owned(),
        "/api/audit-log".to_owned(),
        "/api/customers/1/export".to_owned(),
    ] {
        let (status, body) = agent.get(&path).await;
        assert_eq!(
            (status, kind(&body)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{path}"
        );
        assert_eq!(body.as_object().unwrap().len(), 1, "only the error: {body}");
    }
    // A target that does not exist is refused the same way (it tells nothing).
    assert_eq!(
        agent.get("/api/conversations/987654").await.0,
        StatusCode::FORBIDDEN
    );

    // 413 over the body limit (the route's, before any parsing).
    let big = json!({"name": "x".repeat(100 * 1024), "role": "agent"});
    let (status, body) = owner.post("/api/employees", big).await;
    assert_eq!(
        (status, kind(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    // The send and plan routes take media: their limit is the media's, not the API's.
    let media = json!({"draft": {"kind": "file", "media": {"data": "QUJD".repeat(25 * 1024), "mime_type": "text/plain", "file_name": "a.txt"}}});
    let (status, body) = owner.post("/api/conversations/1/plan", media).await;
    assert_eq!(
        (status, kind(&body)),
        (StatusCode::FORBIDDEN, "forbidden"),
        "read, then refused by right"
    );
    let big_webhook = anon
        .http
        .post(format!("{url}/webhooks/telegram/{account}"))
        .body(vec![b' '; 2 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(big_webhook.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // 400 for malformed JSON, and for JSON of the wrong shape; the body is never quoted.
    let secret = "do-not-echo-this-text";
    for (body, expected) in [
        (format!("{{\"name\": \"{secret}\""), "malformed_json"),
        ("not json at all".to_owned(), "malformed_json"),
        (
            format!("{{\"name\": \"{secret}\", \"role\": \"emperor\"}}"),
            "invalid_body",
        ),
        (
            format!("{{\"name\": 5, \"role\": \"{secret}\"}}"),
            "invalid_body",
        ),
        (
            format!("{{\"nam\": \"{secret}\", \"role\": \"agent\"}}"),
            "invalid_body",
        ),
        (String::new(), "malformed_json"),
    ] {
        let response = owner
            .http
            .post(format!("{url}/api/employees"))
            .bearer_auth(owner.token.as_ref().unwrap())
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let text = response.text().await.unwrap();
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(kind(&parsed), expected, "{text}");
        assert!(!text.contains(secret), "the answer quotes the body: {text}");
        assert!(
            !text.contains("emperor"),
            "the answer quotes the body: {text}"
        );
    }
    // 415 for a body that is not JSON.
    let form = owner
        .http
        .post(format!("{url}/api/employees"))
        .bearer_auth(owner.token.as_ref().unwrap())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=x&role=agent")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // 400 for bad query parameters and path ids.
    let (status, body) = owner.get("/api/conversations?limit=lots").await;
    assert_eq!(
        (status, kind(&body)),
        (StatusCode::BAD_REQUEST, "invalid_query")
    );
    let (status, body) = owner.get("/api/conversations?bogus=1").await;
    assert_eq!(
        (status, kind(&body)),
        (StatusCode::BAD_REQUEST, "invalid_query")
    );
    let (status, body) = owner.get("/api/conversations/not-a-number").await;
    assert_eq!(
        (status, kind(&body)),
        (StatusCode::BAD_REQUEST, "invalid_input")
    );

    // 404 JSON for an unknown route; 405 JSON for a method a route does not take.
    for path in ["/api/nothing-here", "/nothing", "/api/conversations/1/nope"] {
        let (status, body) = anon.get(path).await;
        assert_eq!(
            (status, kind(&body)),
            (StatusCode::NOT_FOUND, "no_route"),
            "{path}"
        );
    }
    let (status, body) = owner.call(Method::DELETE, "/api/conversations", None).await;
    assert_eq!(
        (status, kind(&body)),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    let (status, body) = anon.get("/webhooks/telegram/not-an-id").await;
    assert_eq!((status, kind(&body)), (StatusCode::NOT_FOUND, "not_found"));

    // Sign-in: wrong passwords hold the login (from any address), with 429 and Retry-After.
    for _ in 0..3 {
        let (status, body) = anon
            .post(
                "/api/auth/sign-in",
                json!({"login": "boris", "password": "wrong password"}),
            )
            .await;
        assert_eq!(
            (status, kind(&body)),
            (StatusCode::UNAUTHORIZED, "unauthenticated")
        );
    }
    let held = anon
        .http
        .post(format!("{url}/api/auth/sign-in"))
        .json(&json!({"login": "boris", "password": AGENT.1}))
        .send()
        .await
        .unwrap();
    assert_eq!(held.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(held.headers().contains_key("retry-after"));
    // Another login from the same address still signs in; an unknown login is refused like a
    // wrong password.
    Api::signed_in(&url, OWNER).await;
    let (status, _) = anon
        .post(
            "/api/auth/sign-in",
            json!({"login": "nobody", "password": "whatever it is"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The address's budget: 12 a minute.
    let mut limited = false;
    for i in 0..20 {
        let (status, _) = anon
            .post(
                "/api/auth/sign-in",
                json!({"login": format!("guess{i}"), "password": "x"}),
            )
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
    }
    assert!(limited, "sign-in is limited per address");

    // Nothing about a session is a cookie.
    let response = anon
        .http
        .post(format!("{url}/api/auth/sign-in"))
        .json(&json!({"login": "anna", "password": "x"}))
        .send()
        .await
        .unwrap();
    assert!(!response.headers().contains_key("set-cookie"));
    server.shutdown(Duration::from_secs(5)).await;
}

/// The OpenAPI document and the router: the same routes, both ways; and every documented
/// route answers something other than "no route" or "method not allowed" on the live server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_documented_and_every_documented_route_exists() {
    let doc: Value = serde_json::from_str(messenger_server::OPENAPI).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            documented.insert((method.to_uppercase(), path.clone()));
            assert!(
                op["summary"].is_string() && op["responses"].is_object(),
                "{method} {path}"
            );
        }
    }
    let routed: BTreeSet<(String, String)> = messenger_server::route_table()
        .into_iter()
        .map(|(m, p)| (m.to_owned(), p.to_owned()))
        .collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from openapi.json: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented but not routed: {unrouted:?}"
    );
    // Every $ref resolves.
    let text = messenger_server::OPENAPI;
    for piece in text.split("\"$ref\": \"#/components/").skip(1) {
        let target = &piece[..piece.find('"').unwrap()];
        let mut node = &doc["components"];
        for part in target.split('/') {
            node = &node[part];
        }
        assert!(!node.is_null(), "unresolved $ref {target}");
    }

    // The live router answers every documented route (401, 403, 400... but never "no route").
    tokio::time::timeout(Duration::from_secs(120), async {
        let world = World::new().await;
        let db = Database::sqlite();
        let server = world.start(world.config(&db, Vec::new(), &[])).await;
        let api = Api::new(server.url());
        let served = api.get("/api/openapi.json").await.1;
        assert_eq!(served, doc);
        for (method, path) in &documented {
            let concrete = path
                .replace("{platform}", "telegram")
                .replace("{key}", "token")
                .split('/')
                .map(|s| if s.starts_with('{') { "1" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let concrete = if concrete.is_empty() {
                "/".to_owned()
            } else {
                concrete
            };
            let (status, body) = api.call(method.parse().unwrap(), &concrete, None).await;
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(
                !(status == StatusCode::NOT_FOUND && kind(&body) == "no_route"),
                "{method} {path}: no route"
            );
        }
        server.shutdown(Duration::from_secs(5)).await;
    })
    .await
    .expect("the probe timed out");
}
