//! `messenger serve --sandbox`, the README's run command, as a real process: it prints the URL,
//! the sign-ins and the sandbox; on every emulated platform a customer's message reaches the
//! owner and the owner's reply reaches the customer's emulated phone; the agent sees only the
//! accounts granted to it; SIGTERM stops it cleanly.

mod serve_common;

use std::time::Duration;

use messenger_sandbox::{Control, CustomerMessage};
use serde_json::json;
use serve_common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_sandbox_connects_every_platform() {
    tokio::time::timeout(Duration::from_secs(180), run())
        .await
        .expect("the test timed out");
}

async fn run() {
    let dir = std::env::temp_dir().join(format!("messenger-serve-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("inbox.db");
    let node = Node::start(
        &["--sandbox", "--port", "0", "--db", db.to_str().unwrap()],
        &[],
    );
    let text = node.printed.join("\n");
    for needle in [
        "anna",
        "sandbox-anna",
        "boris",
        "sandbox-boris",
        "/api/openapi.json",
        "/control",
    ] {
        assert!(text.contains(needle), "`{needle}` is not printed:\n{text}");
    }
    assert!(node.url.starts_with("http://127.0.0.1:") && !node.url.ends_with(":0"));
    let sandbox = node
        .printed_value("sandbox:")
        .expect("the sandbox URL is printed");
    let control = Control::new(format!("{sandbox}/control")).unwrap();
    let owner = Api::signed_in(&node.url, "anna", "sandbox-anna").await;
    let agent = Api::signed_in(&node.url, "boris", "sandbox-boris").await;
    let page = reqwest::get(format!("{}/", node.url)).await.unwrap();
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );

    let sandbox_accounts = control.accounts().await.unwrap();
    assert!(
        sandbox_accounts.len() >= 4,
        "every emulated platform: {sandbox_accounts:?}"
    );
    for account in &sandbox_accounts {
        let platform = account.platform.as_str();
        if !messenger_cli::registry::has_connector(account.platform) {
            continue;
        }
        let customer = control.customers(&account.id).await.unwrap().remove(0);
        let hello = format!("hello on {platform}");
        control
            .customer_sends(&account.id, &customer.id, &CustomerMessage::text(&hello))
            .await
            .unwrap();
        let id = owner.account_of(platform).await;
        let conversation = owner.conversation_of(id).await;
        eventually(
            &format!("{platform}: the message is in the history"),
            WAIT,
            || async {
                owner
                    .ok(&format!("/api/conversations/{conversation}/messages"))
                    .await["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m["content"]["text"] == hello.as_str())
            },
        )
        .await;
        let reply = format!("reply on {platform}");
        let (status, body) = owner
            .post(
                &format!("/api/conversations/{conversation}/messages"),
                json!({"idempotency_key": format!("r-{platform}"), "draft": {"kind": "text", "text": reply}}),
            )
            .await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{platform}: {body}");
        eventually(
            &format!("{platform}: the customer receives the reply"),
            WAIT,
            || async {
                control
                    .received(&account.id, &customer.id)
                    .await
                    .unwrap()
                    .iter()
                    .any(|m| m.text.as_deref().is_some_and(|t| t.starts_with(&reply)))
            },
        )
        .await;
        // The agent holds Telegram and WhatsApp only.
        let expected = matches!(platform, "telegram" | "whatsapp");
        let (status, _) = agent
            .call(
                reqwest::Method::GET,
                &format!("/api/conversations/{conversation}"),
                None,
            )
            .await;
        assert_eq!(
            status.is_success(),
            expected,
            "{platform}: the agent's access"
        );
    }
    let status = node.stop();
    assert!(
        status.success(),
        "messenger serve exits cleanly on SIGTERM: {status}"
    );
    // The same database again: the bootstrap changes nothing, the history is there.
    let node = Node::start(
        &["--sandbox", "--port", "0", "--db", db.to_str().unwrap()],
        &[],
    );
    let owner = Api::signed_in(&node.url, "anna", "sandbox-anna").await;
    let list = owner.ok("/api/conversations").await;
    assert!(list["conversations"].as_array().unwrap().len() >= 4);
    assert_eq!(
        owner.ok("/api/accounts").await["accounts"]
            .as_array()
            .unwrap()
            .len(),
        sandbox_accounts.len()
    );
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}
