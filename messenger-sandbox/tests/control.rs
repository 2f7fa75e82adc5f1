//! The control API over HTTP (the typed `Control` client and raw reqwest), the demo seeding of
//! `run`, and the server's lifecycle.

mod common;

use std::time::Duration;

use common::{Receiver, client, png, sandbox};
use messenger_core::{ErrorKind, Platform};
use messenger_sandbox::{
    AccountPatch, AccountSpec, CustomerMessage, Fault, FaultSpec, MediaUpload, MessageDirection,
    MessageKind, MessageStatus, NewCustomer, Sandbox,
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
        .post(format!("{}/v25.0/{}/messages", sandbox.urls().whatsapp(), number.id))
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
        .header("content-type", "application/json")
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
    // One account on every emulated platform, credentials fixed across runs.
    let platforms: Vec<Platform> = demo.accounts.iter().map(|a| a.platform).collect();
    assert_eq!(
        platforms,
        [
            Platform::Telegram,
            Platform::WhatsApp,
            Platform::Max,
            Platform::Vk,
            Platform::Avito
        ]
    );
    let shop = demo.account(Platform::Avito).unwrap();
    assert_eq!(shop.account.id, "94235311");
    assert_eq!(shop.customer.id, "u2i-Sandbox0Demo0Chat00001");
    let bot = demo.account(Platform::Telegram).unwrap();
    let number = demo.account(Platform::WhatsApp).unwrap();
    assert_eq!(
        bot.account.token,
        "7000000001:AAsandboxDemoTelegramToken000000001"
    );
    assert_eq!(number.account.id, "100000000000001");
    assert_eq!(
        number.account.token,
        "EAAsandboxDemoWhatsAppAccessToken0001"
    );
    assert_eq!(
        number.account.app_secret.as_deref(),
        Some("sandbox-demo-app-secret")
    );
    assert_eq!(demo.urls, *sandbox.urls());
    let tg = sandbox.credentials(&bot.account.id).unwrap();
    let token = tg.get("token").unwrap().to_owned();
    assert_eq!(tg.get("base_url"), Some(demo.urls.telegram()));
    let http = client();
    let me: Value = http
        .get(format!("{}/bot{token}/getMe", demo.urls.telegram()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["result"]["username"], "sandbox_demo_bot");
    let resp = http
        .post(format!("{}/bot{token}/sendMessage", demo.urls.telegram()))
        .json(&json!({ "chat_id": bot.customer.id.parse::<i64>().unwrap(), "text": "hi Ivan" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let wa = sandbox.credentials(&number.account.id).unwrap();
    let graph: Value = http
        .get(format!(
            "{}/v25.0/{}",
            demo.urls.whatsapp(),
            wa.get("phone_number_id").unwrap()
        ))
        .bearer_auth(wa.get("token").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(graph["verified_name"], "Sandbox Demo Business");
    assert_eq!(number.customer.id, "15550001111");
    // Debug never shows tokens.
    let debug = format!("{demo:?}");
    assert!(!debug.contains(&token));
    assert!(!debug.contains(wa.get("token").unwrap()));
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

/// A web page can POST a form or a `text/plain` body cross-site without a preflight: the control
/// API refuses every state-changing request that is not `application/json`, and nothing changes.
#[tokio::test]
async fn state_changing_requests_must_be_json() {
    let sandbox = sandbox().await;
    let control = &sandbox.urls().control;
    let http = client();
    let bot = sandbox.create_account(&AccountSpec::telegram()).unwrap();
    let ivan = sandbox
        .create_customer(&bot.id, &NewCustomer::named("Ivan"))
        .unwrap();
    sandbox
        .inject_fault(&bot.id, &FaultSpec::new(Fault::Delay { millis: 1 }))
        .unwrap();
    let refused = |resp: reqwest::Response| async move {
        assert_eq!(resp.status(), 415);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["kind"], "invalid_input");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("application/json")
        );
    };

    // A `text/plain` POST whose body is valid JSON.
    let spec = json!({ "platform": "telegram", "token": "4242:abc_DEF-1" }).to_string();
    refused(
        http.post(format!("{control}/accounts"))
            .header("content-type", "text/plain")
            .body(spec.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    // A form POST.
    refused(
        http.post(format!(
            "{control}/accounts/{}/customers/{}/messages",
            bot.id, ivan.id
        ))
        .form(&[("text", "from a web page")])
        .send()
        .await
        .unwrap(),
    )
    .await;
    // Multipart, and requests without a body or a content type.
    refused(
        http.post(format!(
            "{control}/accounts/{}/customers/{}/block",
            bot.id, ivan.id
        ))
        .multipart(reqwest::multipart::Form::new().text("x", "y"))
        .send()
        .await
        .unwrap(),
    )
    .await;
    refused(
        http.post(format!(
            "{control}/accounts/{}/customers/{}/block",
            bot.id, ivan.id
        ))
        .send()
        .await
        .unwrap(),
    )
    .await;
    refused(
        http.delete(format!("{control}/accounts/{}/faults", bot.id))
            .send()
            .await
            .unwrap(),
    )
    .await;
    refused(
        http.patch(format!("{control}/accounts/{}", bot.id))
            .header("content-type", "text/plain")
            .body(r#"{"webhook_url":"http://127.0.0.1:1/hook"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    refused(
        http.post(format!("{control}/clock/advance"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("seconds=86400")
            .send()
            .await
            .unwrap(),
    )
    .await;

    // Nothing changed.
    assert_eq!(sandbox.accounts().len(), 1);
    assert!(sandbox.messages(&bot.id, &ivan.id).unwrap().is_empty());
    assert!(!sandbox.customer(&bot.id, &ivan.id).unwrap().blocked);
    assert_eq!(sandbox.faults(&bot.id).unwrap().len(), 1);
    assert!(sandbox.account(&bot.id).unwrap().webhook_url.is_none());
    assert_eq!(sandbox.clock().offset_seconds, 0);

    // JSON (with a charset, and without a body) is accepted; reads need no content type.
    let resp = http
        .post(format!("{control}/accounts"))
        .header("content-type", "Application/JSON; charset=utf-8")
        .body(spec)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let resp = http
        .post(format!(
            "{control}/accounts/{}/customers/{}/block",
            bot.id, ivan.id
        ))
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(sandbox.customer(&bot.id, &ivan.id).unwrap().blocked);
    assert_eq!(
        http.get(format!("{control}/accounts"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The typed client sends the header on every state-changing call, bodiless ones included.
    let typed = sandbox.control().unwrap();
    typed.unblock(&bot.id, &ivan.id).await.unwrap();
    typed.clear_faults(&bot.id).await.unwrap();
    assert!(sandbox.faults(&bot.id).unwrap().is_empty());
}

#[tokio::test]
async fn credentials_carry_the_registry_keys_and_the_prefixed_roots() {
    use messenger_core::registry::BASE_URL;

    let sandbox = sandbox().await;
    let control = sandbox.control().unwrap();

    let bot = sandbox.create_account(&AccountSpec::telegram()).unwrap();
    let credentials = sandbox.credentials(&bot.id).unwrap();
    assert_eq!(
        credentials.keys().collect::<Vec<_>>(),
        vec![BASE_URL, "token"]
    );
    assert_eq!(credentials.get("token"), Some(bot.token.as_str()));
    assert_eq!(credentials.get(BASE_URL), Some(sandbox.urls().telegram()));
    assert!(sandbox.urls().telegram().ends_with("/telegram"));
    assert!(!format!("{credentials:?}").contains(&bot.token));
    let receiver = Receiver::start().await;
    let hooked = sandbox
        .create_account(
            &AccountSpec::telegram()
                .webhook_url(receiver.url.clone())
                .webhook_secret("sec_1"),
        )
        .unwrap();
    let credentials = control.credentials(&hooked.id).await.unwrap();
    assert_eq!(credentials.get("webhook_secret"), Some("sec_1"));
    assert_eq!(credentials, sandbox.credentials(&hooked.id).unwrap());

    let number = sandbox
        .create_account(&AccountSpec::whatsapp().app_secret("app-s"))
        .unwrap();
    let credentials = control.credentials(&number.id).await.unwrap();
    assert_eq!(
        credentials.keys().collect::<Vec<_>>(),
        vec!["app_secret", BASE_URL, "phone_number_id", "token"]
    );
    assert_eq!(credentials.get("token"), Some(number.token.as_str()));
    assert_eq!(credentials.get("phone_number_id"), Some(number.id.as_str()));
    assert_eq!(credentials.get("app_secret"), Some("app-s"));
    assert_eq!(credentials.get(BASE_URL), Some(sandbox.urls().whatsapp()));
    assert!(sandbox.urls().whatsapp().ends_with("/whatsapp"));
    sandbox
        .update_account(
            &number.id,
            &AccountPatch {
                verify_token: Some("vt".into()),
                ..AccountPatch::default()
            },
        )
        .unwrap();
    assert_eq!(
        sandbox.credentials(&number.id).unwrap().get("verify_token"),
        Some("vt")
    );

    // The connector's own calls work from these credentials alone.
    let http = client();
    let credentials = sandbox.credentials(&bot.id).unwrap();
    let me: Value = http
        .get(format!(
            "{}/bot{}/getMe",
            credentials.get(BASE_URL).unwrap(),
            credentials.get("token").unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["result"]["id"].to_string(), bot.id);

    assert_eq!(
        control.credentials("404").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn every_platform_has_an_emulator_and_a_platform_without_a_handshake_says_so() {
    let sandbox = sandbox().await;
    // Every platform is emulated now; one that was not would be refused with `Unsupported`
    // ("no emulator for ...") and its paths not served (the unit tests of the registration
    // list check that).
    for platform in Platform::ALL {
        assert!(
            sandbox.urls().platform(platform).is_some(),
            "{platform} has no emulator"
        );
    }
    let account = sandbox
        .control()
        .unwrap()
        .create_account(&AccountSpec::new(Platform::Avito))
        .await
        .unwrap();
    assert_eq!(account.platform, Platform::Avito);
    // A platform without a handshake says so instead of running another platform's.
    let bot = sandbox.create_account(&AccountSpec::telegram()).unwrap();
    let err = sandbox.verify_webhook(&bot.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    let err = sandbox.verify_webhook(&account.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}

#[tokio::test]
async fn urls_list_every_platform_root_under_its_prefix() {
    let sandbox = sandbox().await;
    let urls: Value = client()
        .get(&sandbox.urls().control)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let base = &sandbox.urls().base;
    assert_eq!(
        urls,
        json!({
            "base": base,
            "control": format!("{base}/control"),
            "telegram": format!("{base}/telegram"),
            "whatsapp": format!("{base}/whatsapp"),
            "max": format!("{base}/max"),
            "vk": format!("{base}/vk"),
            "avito": format!("{base}/avito"),
        })
    );
}
