//! The control API over HTTP (the typed `Control` client and raw reqwest), the demo seeding of
//! `run`, and the server's lifecycle.

mod common;

use std::time::Duration;

use common::{Receiver, client, png, sandbox};
use messenger_core::{ErrorKind, Platform};
use messenger_sandbox::{
    AccountPatch, AccountSpec, CustomerMessage, DEMO_TELEGRAM_TOKEN, DEMO_WHATSAPP_APP_SECRET,
    DEMO_WHATSAPP_PHONE_NUMBER_ID, DEMO_WHATSAPP_TOKEN, Fault, FaultSpec, MediaUpload,
    MessageDirection, MessageKind, MessageStatus, NewCustomer, Sandbox,
};
use serde_json::{Value, json};

#[tokio::test]
async fn typed_client_drives_a_whole_conversation() {
    let sandbox = sandbox().await;
    let control = sandbox.control().unwrap();
    assert_eq!(control.urls().await.unwrap(), *sandbox.urls());

    let receiver = Receiver::start().await;
    let number = control
        .create_account(
            &AccountSpec::whatsapp()
                .webhook_url(receiver.url.clone())
                .app_secret("s"),
        )
        .await
        .unwrap();
    assert_eq!(number.platform, Platform::WhatsApp);
    assert_eq!(number.app_secret.as_deref(), Some("s"));
    let bot = control
        .create_account(&AccountSpec::telegram())
        .await
        .unwrap();
    assert_eq!(control.accounts().await.unwrap().len(), 2);
    assert_eq!(control.account(&bot.id).await.unwrap().token, bot.token);

    let maria = control
        .create_customer(&number.id, &NewCustomer::named("Maria"))
        .await
        .unwrap();
    assert!(maria.window_open_until.is_none());
    assert_eq!(
        control.customers(&number.id).await.unwrap(),
        vec![maria.clone()]
    );

    // Media travels as base64 over HTTP.
    let image = png(8, 8, 10);
    let receipt = control
        .customer_sends(
            &number.id,
            &maria.id,
            &CustomerMessage::media(
                MediaUpload::new(MessageKind::Image, image.clone()).file_name("p.png"),
            )
            .caption("look"),
        )
        .await
        .unwrap();
    assert!(receipt.media_id.is_some());
    receiver.next().await;
    let maria = control.customer(&number.id, &maria.id).await.unwrap();
    assert!(maria.window_open_until.is_some());

    // The business answers through the platform API.
    let http = client();
    let resp = http
        .post(format!("{}/v25.0/{}/messages", sandbox.urls().whatsapp, number.id))
        .bearer_auth(&number.token)
        .json(&json!({ "messaging_product": "whatsapp", "to": maria.id, "type": "text", "text": { "body": "thanks" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    receiver.next().await;
    receiver.next().await;

    let conversation = control.messages(&number.id, &maria.id).await.unwrap();
    assert_eq!(conversation.len(), 2);
    assert_eq!(conversation[0].direction, MessageDirection::Inbound);
    assert_eq!(conversation[0].kind, MessageKind::Image);
    assert_eq!(conversation[0].caption.as_deref(), Some("look"));
    let media = conversation[0].media.as_ref().unwrap();
    assert_eq!(media.size, Some(image.len() as u64));
    assert_eq!(media.mime_type.as_deref(), Some("image/png"));
    assert_eq!(media.file_name.as_deref(), Some("p.png"));
    let received = control.received(&number.id, &maria.id).await.unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].text.as_deref(), Some("thanks"));
    assert_eq!(received[0].status, MessageStatus::Delivered);

    let read = control
        .customer_reads(&number.id, &maria.id, Some(&received[0].id))
        .await
        .unwrap();
    assert_eq!(read.read, 1);
    assert_eq!(
        receiver.next().await.json()["entry"][0]["changes"][0]["value"]["statuses"][0]["status"],
        "read"
    );

    let blocked = control.block(&number.id, &maria.id).await.unwrap();
    assert!(blocked.blocked);
    assert!(
        !control
            .unblock(&number.id, &maria.id)
            .await
            .unwrap()
            .blocked
    );
    assert!(
        !control
            .set_online(&number.id, &maria.id, false)
            .await
            .unwrap()
            .online
    );

    let queued = control
        .inject_fault(
            &number.id,
            &FaultSpec::new(Fault::Delay { millis: 1 }).times(3),
        )
        .await
        .unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(control.faults(&number.id).await.unwrap()[0].count, 3);
    control.clear_faults(&number.id).await.unwrap();
    assert!(control.faults(&number.id).await.unwrap().is_empty());

    let requests = control.requests(&number.id).await.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].operation, "messages");
    let deliveries = control.deliveries(&number.id).await.unwrap();
    assert_eq!(deliveries.len(), 4);
    assert!(deliveries.iter().all(|d| d.status == Some(200)));

    let patched = control
        .update_account(
            &number.id,
            &AccountPatch {
                out_of_order_statuses: Some(true),
                ..AccountPatch::default()
            },
        )
        .await
        .unwrap();
    assert!(patched.out_of_order_statuses);

    let before = control.clock().await.unwrap();
    let after = control
        .advance_clock(Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(after.offset_seconds, before.offset_seconds + 3600);
    assert!(after.now >= before.now + chrono::Duration::seconds(3600));
}

#[tokio::test]
async fn control_errors_have_kinds() {
    let sandbox = sandbox().await;
    let control = sandbox.control().unwrap();
    let err = control.account("404").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let bot = control
        .create_account(&AccountSpec::telegram())
        .await
        .unwrap();
    let err = control
        .create_account(&AccountSpec::telegram().token(bot.token.clone()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    let err = control
        .create_account(&AccountSpec::telegram().token("no-colon"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let ivan = control
        .create_customer(&bot.id, &NewCustomer::named("I"))
        .await
        .unwrap();
    let err = control
        .create_customer(&bot.id, &NewCustomer::named("I").id(ivan.id.clone()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    let err = control
        .customer_sends(&bot.id, &ivan.id, &CustomerMessage::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = control
        .customer_reads(&bot.id, &ivan.id, Some("12345"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = control
        .inject_fault(
            &bot.id,
            &FaultSpec::new(Fault::Delay { millis: 1 }).times(0),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);

    // Raw HTTP: the error shape, and a body that is not JSON.
    let http = client();
    let resp = http
        .get(format!(
            "{}/accounts/nope/customers",
            sandbox.urls().control
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["kind"], "not_found");
    let resp = http
        .post(format!("{}/accounts", sandbox.urls().control))
        .body("{ nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["kind"], "decode");
}

#[tokio::test]
async fn raw_json_routes() {
    let sandbox = sandbox().await;
    let http = client();
    let control = &sandbox.urls().control;
    let resp = http
        .post(format!("{control}/accounts"))
        .json(&json!({ "platform": "telegram", "token": "4242:abc_DEF-1", "name": "Raw" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let bot: Value = resp.json().await.unwrap();
    assert_eq!(bot["id"], "4242");
    assert_eq!(bot["platform"], "telegram");
    let resp = http
        .post(format!("{control}/accounts/4242/customers"))
        .json(&json!({ "id": "555", "name": "Olga" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let resp = http
        .post(format!("{control}/accounts/4242/customers/555/messages"))
        .json(&json!({ "media": { "kind": "file", "data_base64": "JVBERi0xLjQ=", "file_name": "a.pdf" }, "caption": "doc" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let receipt: Value = resp.json().await.unwrap();
    assert!(receipt["update_id"].is_i64());
    let resp = http
        .post(format!("{control}/accounts/4242/faults"))
        .json(&json!({ "fault": { "kind": "drop_connection" }, "operation": "sendMessage" }))
        .send()
        .await
        .unwrap();
    let faults: Value = resp.json().await.unwrap();
    assert_eq!(
        faults,
        json!([{ "fault": { "kind": "drop_connection", "before_processing": false }, "count": 1, "operation": "sendMessage" }])
    );
    let messages: Value = http
        .get(format!(
            "{control}/accounts/4242/customers/555/messages?direction=inbound"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(messages[0]["kind"], "file");
    assert_eq!(messages[0]["direction"], "inbound");
    assert_eq!(messages[0]["status"], "received");
    assert_eq!(messages[0]["media"]["size"], 8);
    assert_eq!(messages[0]["media"]["mime_type"], "application/pdf");
    let resp = http
        .post(format!("{control}/clock/advance"))
        .json(&json!({ "seconds": 60 }))
        .send()
        .await
        .unwrap();
    let clock: Value = resp.json().await.unwrap();
    assert_eq!(clock["offset_seconds"], 60);
}

#[tokio::test]
async fn run_seeds_the_demo_accounts() {
    let (sandbox, demo) = messenger_sandbox::run("127.0.0.1:0").await.unwrap();
    assert_eq!(demo.telegram.token, DEMO_TELEGRAM_TOKEN);
    assert_eq!(demo.whatsapp.id, DEMO_WHATSAPP_PHONE_NUMBER_ID);
    assert_eq!(demo.whatsapp.token, DEMO_WHATSAPP_TOKEN);
    assert_eq!(
        demo.whatsapp.app_secret.as_deref(),
        Some(DEMO_WHATSAPP_APP_SECRET)
    );
    assert_eq!(demo.urls, *sandbox.urls());
    let http = client();
    let me: Value = http
        .get(format!(
            "{}/bot{DEMO_TELEGRAM_TOKEN}/getMe",
            demo.urls.telegram
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["result"]["username"], "sandbox_demo_bot");
    let resp = http
        .post(format!("{}/bot{DEMO_TELEGRAM_TOKEN}/sendMessage", demo.urls.telegram))
        .json(&json!({ "chat_id": demo.telegram_customer.id.parse::<i64>().unwrap(), "text": "hi Ivan" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let number: Value = http
        .get(format!(
            "{}/v25.0/{DEMO_WHATSAPP_PHONE_NUMBER_ID}",
            demo.urls.whatsapp
        ))
        .bearer_auth(DEMO_WHATSAPP_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(number["verified_name"], "Sandbox Demo Business");
    assert_eq!(demo.whatsapp_customer.id, "15550001111");
    // Debug never shows tokens.
    let debug = format!("{demo:?}");
    assert!(!debug.contains(DEMO_TELEGRAM_TOKEN));
    assert!(!debug.contains(DEMO_WHATSAPP_TOKEN));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn loopback_only_and_shutdown_closes_the_server() {
    let err = Sandbox::start("0.0.0.0:0").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let sandbox = Sandbox::start("127.0.0.1:0").await.unwrap();
    let url = sandbox.urls().control.clone();
    let http = client();
    assert_eq!(http.get(&url).send().await.unwrap().status(), 200);
    sandbox.shutdown().await;
    assert!(http.get(&url).send().await.is_err());
}

#[tokio::test]
async fn telegram_webhook_through_the_account_spec() {
    let sandbox = sandbox().await;
    let receiver = Receiver::start().await;
    let bot = sandbox
        .create_account(
            &AccountSpec::telegram()
                .webhook_url(receiver.url.clone())
                .webhook_secret("tok"),
        )
        .unwrap();
    assert_eq!(bot.webhook_secret.as_deref(), Some("tok"));
    let ivan = sandbox
        .create_customer(&bot.id, &NewCustomer::named("Ivan"))
        .unwrap();
    sandbox
        .customer_sends(&bot.id, &ivan.id, &CustomerMessage::text("x"))
        .unwrap();
    let delivery = receiver.next().await;
    assert_eq!(
        delivery
            .header("x-telegram-bot-api-secret-token")
            .as_deref(),
        Some("tok")
    );
    // A webhook URL Telegram would refuse is refused.
    let err = sandbox.create_account(&AccountSpec::telegram().webhook_url("ftp://x"));
    assert_eq!(err.unwrap_err().kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn non_loopback_webhooks_are_recorded_as_failed_deliveries() {
    let sandbox = sandbox().await;
    let number = sandbox
        .create_account(&AccountSpec::whatsapp().webhook_url("https://crm.example.com/wa"))
        .unwrap();
    let maria = sandbox
        .create_customer(&number.id, &NewCustomer::named("M"))
        .unwrap();
    sandbox
        .customer_sends(&number.id, &maria.id, &CustomerMessage::text("x"))
        .unwrap();
    common::eventually(|| !sandbox.deliveries(&number.id).unwrap().is_empty()).await;
    let delivery = &sandbox.deliveries(&number.id).unwrap()[0];
    assert_eq!(delivery.status, None);
    assert_eq!(
        delivery.error.as_deref(),
        Some("the sandbox delivers webhooks to loopback addresses only")
    );
    assert_eq!(sandbox.account(&number.id).unwrap().pending, 1);
}

#[tokio::test]
async fn the_handle_is_usable_from_other_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Sandbox>();
    assert_send_sync::<messenger_sandbox::Control>();
    let sandbox = sandbox().await;
    let created = std::thread::scope(|scope| {
        scope
            .spawn(|| sandbox.create_account(&AccountSpec::telegram()))
            .join()
            .unwrap()
    })
    .unwrap();
    let receiver = Receiver::start().await;
    // The worker spawned from the other thread runs on the sandbox's runtime.
    sandbox
        .update_account(
            &created.id,
            &AccountPatch {
                webhook_url: Some(receiver.url.clone()),
                ..AccountPatch::default()
            },
        )
        .unwrap();
    let ivan = sandbox
        .create_customer(&created.id, &NewCustomer::named("I"))
        .unwrap();
    sandbox
        .customer_sends(&created.id, &ivan.id, &CustomerMessage::text("x"))
        .unwrap();
    assert_eq!(receiver.next().await.json()["message"]["text"], "x");
}
