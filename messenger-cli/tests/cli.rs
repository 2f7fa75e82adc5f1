//! The `messenger` binary, end to end.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn messenger(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_messenger"))
        .args(args)
        .output()
        .expect("run messenger")
}

fn messenger_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_messenger"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run messenger");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[test]
fn capabilities_lists_all_five_platforms() {
    let out = messenger(&["capabilities"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let header = text.lines().next().unwrap();
    for name in ["Telegram", "WhatsApp", "MAX", "VK", "Avito"] {
        assert!(header.contains(name), "{name} missing from {header}");
    }
    assert!(text.contains("| Text | 4096 UTF-16 units |"));
}

#[test]
fn capabilities_json_has_every_platform() {
    let out = messenger(&["capabilities", "--format", "json"]);
    assert!(out.status.success());
    let caps: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let platforms: Vec<&str> = caps
        .iter()
        .map(|c| c["platform"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["telegram", "whatsapp", "max", "vk", "avito"]);
    assert_eq!(caps[1]["reply_window"], 86400);
}

#[test]
fn readme_shows_the_current_matrix() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let matrix = messenger_cli::matrix::all_platforms_markdown();
    assert!(
        readme.contains(&matrix),
        "README's capability matrix is stale: paste `messenger capabilities` between the markers"
    );
}

#[test]
fn plan_splits_long_cyrillic_text_for_telegram() {
    let text = "Ваш заказ готов. ".repeat(400);
    let out = messenger(&["plan", "--platform", "telegram", "--text", &text]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = stdout(&out);
    assert!(s.starts_with("Telegram: 2 parts, 1 downgrade"), "{s}");
    assert!(
        s.contains("downgrade: text -> text: text over 4096 split into 2 messages"),
        "{s}"
    );
    // The text itself is not printed without --show-text.
    assert!(!s.contains("Ваш заказ"), "{s}");
    let shown = stdout(&messenger(&[
        "plan",
        "--platform",
        "telegram",
        "--text",
        "Привет",
        "--show-text",
    ]));
    assert!(shown.contains("\"Привет\""), "{shown}");
}

#[test]
fn plan_voice_falls_back_or_fails_under_strict() {
    let dir = std::env::temp_dir().join(format!("messenger-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mp3 = dir.join("note.mp3");
    std::fs::write(&mp3, vec![0u8; 2048]).unwrap();
    let mp3 = mp3.to_str().unwrap();

    // WhatsApp voice notes must be OGG/Opus: an MP3 goes as audio, whose caption WhatsApp
    // does not take, so the caption follows as text.
    let lenient = messenger(&[
        "plan",
        "--platform",
        "whatsapp",
        "--voice",
        mp3,
        "--caption",
        "hi",
    ]);
    assert!(lenient.status.success(), "{}", stderr(&lenient));
    let s = stdout(&lenient);
    assert!(s.contains("downgrade: voice -> audio"), "{s}");
    assert!(
        s.contains("part 1: audio, upload 2048 bytes, audio/mpeg"),
        "{s}"
    );
    assert!(s.contains("part 2: text"), "{s}");

    let strict = messenger(&["plan", "--platform", "whatsapp", "--voice", mp3, "--strict"]);
    assert!(!strict.status.success());
    let err = stderr(&strict);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("unsupported"), "{err}");
}

#[test]
fn plan_refuses_closed_window() {
    let out = messenger(&[
        "plan",
        "--platform",
        "whatsapp",
        "--text",
        "hi",
        "--window",
        "closed",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("outside_reply_window"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn plan_leaves_an_unknown_window_to_the_platform() {
    let out = messenger(&[
        "plan",
        "--platform",
        "whatsapp",
        "--text",
        "hi",
        "--window",
        "unknown",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = stdout(&out);
    assert!(s.starts_with("WhatsApp: 1 part, 0 downgrades"), "{s}");
    assert!(
        s.contains("reply window unknown: the platform decides"),
        "{s}"
    );
}

#[test]
fn parse_telegram_webhook_body_from_stdin() {
    let body = br#"{"update_id":812345678,"message":{"message_id":42,"from":{"id":123456789,"is_bot":false,"first_name":"Ivan"},"chat":{"id":123456789,"type":"private","first_name":"Ivan"},"date":1767225600,"text":"hello /start"}}"#;
    let out = messenger_stdin(&["parse", "telegram", "-"], body);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 1);
    let event: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(event["type"], "message");
    assert_eq!(event["chat_id"], "123456789");
    assert_eq!(event["message_id"], "42");
    assert_eq!(event["timestamp"], "2026-01-01T00:00:00Z");
    assert_eq!(event["content"]["kind"], "text");
    assert_eq!(event["content"]["text"], "hello /start");
}

#[test]
fn parse_get_updates_response_prints_one_line_per_event() {
    let body = br#"{"ok":true,"result":[
        {"update_id":1,"message":{"message_id":1,"date":1767225600,"chat":{"id":5,"type":"private"},"text":"a"}},
        {"update_id":2,"edited_message":{"message_id":1,"date":1767225600,"edit_date":1767225700,"chat":{"id":5,"type":"private"},"text":"b"}},
        {"update_id":3,"some_future_update":{"x":1}}
    ]}"#;
    let out = messenger_stdin(&["parse", "telegram", "-"], body);
    assert!(out.status.success(), "{}", stderr(&out));
    let events: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 3);
    assert_eq!(events[1]["edited"], true);
    assert_eq!(events[2]["type"], "other");
}

#[test]
fn parse_whatsapp_webhook_file() {
    let body = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
        "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"106540352242922"},
        "contacts":[{"profile":{"name":"Kerry"},"wa_id":"16315551234"}],
        "messages":[{"from":"16315551234","id":"wamid.ABC","timestamp":"1767225600","type":"text","text":{"body":"Hi there"}}],
        "statuses":[{"id":"wamid.OUT","status":"delivered","timestamp":"1767225601","recipient_id":"16315551234"}]}}]}]}"#;
    let path = std::env::temp_dir().join(format!("wa-{}.json", std::process::id()));
    std::fs::write(&path, body).unwrap();
    let out = messenger(&["parse", "whatsapp", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let events: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    let message = events.iter().find(|e| e["type"] == "message").unwrap();
    assert_eq!(message["content"]["text"], "Hi there");
    let status = events.iter().find(|e| e["type"] == "status").unwrap();
    assert_eq!(status["status"], "delivered");
}

#[test]
fn parse_malformed_input_fails_with_one_line() {
    for platform in ["telegram", "whatsapp"] {
        let out = messenger_stdin(
            &["parse", platform, "-"],
            b"{\"update_id\": 1, \"message\": ",
        );
        assert!(!out.status.success());
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("decode"), "{err}");
        assert!(stdout(&out).is_empty());
    }
}

#[test]
fn every_platform_has_a_connector_and_the_matrix_says_so() {
    for platform in messenger_core::Platform::ALL {
        assert!(
            messenger_cli::registry::has_connector(platform),
            "{platform} has no connector"
        );
    }
    let matrix = messenger_cli::matrix::all_platforms_markdown();
    assert!(
        matrix.contains("| Connector | yes | yes | yes | yes | yes |"),
        "{matrix}"
    );
}

#[test]
fn parse_max_webhook_and_long_poll_bodies() {
    // A webhook delivery: one Update, a text message in a dialog.
    let body = r#"{"update_type":"message_created","timestamp":1767225600000,"user_locale":"ru",
        "message":{"sender":{"user_id":400000001,"first_name":"Anna","name":"Anna","is_bot":false},
        "recipient":{"chat_id":100003959000001,"chat_type":"dialog","user_id":500000001},
        "timestamp":1767225600000,"body":{"mid":"mid.0000005af3a4b7c10000000000000001","seq":1,"text":"где заказ?"}}}"#;
    let out = messenger_stdin(&["parse", "max", "-"], body.as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    let events: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "message");
    assert_eq!(events[0]["platform"], "max");
    assert_eq!(events[0]["chat_id"], "100003959000001");
    assert_eq!(
        events[0]["message_id"],
        "mid.0000005af3a4b7c10000000000000001"
    );
    assert_eq!(events[0]["timestamp"], "2026-01-01T00:00:00Z");
    assert_eq!(events[0]["content"]["text"], "где заказ?");

    // A long-poll answer: a stop and a native voice note MAX sends without its message.
    let body = br#"{"marker":25000012,"updates":[
        {"update_type":"bot_stopped","timestamp":1767225600000,"chat_id":100003959000001,
         "user":{"user_id":400000001,"first_name":"Anna","is_bot":false}},
        {"update_type":"message_created","timestamp":1767225600000,"chat_id":100003959000001}]}"#;
    let out = messenger_stdin(&["parse", "max", "-"], body);
    assert!(out.status.success(), "{}", stderr(&out));
    let events: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["type"], "contact");
    assert_eq!(events[0]["change"], "blocked");
    assert_eq!(events[1]["type"], "other");
    assert_eq!(events[1]["chat_id"], "100003959000001");

    let out = messenger_stdin(&["parse", "max", "-"], b"{\"update_type\": ");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("decode"), "{err}");
}

#[test]
fn parse_vk_callback_and_long_poll_bodies() {
    // A Callback event: a photo with text is one image message with a caption.
    let body = r#"{"type":"message_new","group_id":229000000,"event_id":"3a6b1f0c5e","v":"5.199","secret":"s3cr3t",
        "object":{"message":{"id":345,"date":1767225600,"peer_id":111,"from_id":111,"out":0,
        "conversation_message_id":12,"text":"Вот чек","attachments":[{"type":"photo","photo":{"id":457239017,
        "owner_id":111,"album_id":-3,"date":1767225600,"access_key":"8f1e2d","has_tags":false,
        "sizes":[{"type":"x","url":"https://sun9-1.userapi.com/x.jpg","width":604,"height":453}]}}]},
        "client_info":{}}}"#;
    let out = messenger_stdin(&["parse", "vk", "-"], body.as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    let events: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "message");
    assert_eq!(events[0]["platform"], "vk");
    assert_eq!(events[0]["chat_id"], "111");
    assert_eq!(events[0]["message_id"], "345");
    assert_eq!(events[0]["timestamp"], "2026-01-01T00:00:00Z");
    assert_eq!(events[0]["content"]["kind"], "image");
    assert_eq!(events[0]["content"]["caption"], "Вот чек");

    // A Bots Long Poll answer: a read receipt, a denial, an own message, one line each.
    let body = br#"{"ts":"5","updates":[
        {"type":"message_read","event_id":"e1","v":"5.199","group_id":229000000,
         "object":{"from_id":111,"peer_id":111,"read_message_id":352,"conversation_message_id":13}},
        {"type":"message_deny","event_id":"e2","v":"5.199","group_id":229000000,"object":{"user_id":111}},
        {"type":"message_reply","event_id":"e3","v":"5.199","group_id":229000000,
         "object":{"id":353,"date":1767225600,"peer_id":111,"from_id":-229000000,"out":1,"text":"ok"}}]}"#;
    let out = messenger_stdin(&["parse", "vk", "-"], body);
    assert!(out.status.success(), "{}", stderr(&out));
    let events: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[0]["type"], "status");
    assert_eq!(events[0]["status"], "read");
    assert_eq!(events[0]["message_id"], "352");
    assert_eq!(events[1]["type"], "contact");
    assert_eq!(events[1]["change"], "opted_out");
    assert_eq!(events[2]["type"], "other");
    assert_eq!(events[2]["kind"], "message_reply");

    let out = messenger_stdin(&["parse", "vk", "-"], b"{\"type\": ");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("decode"), "{err}");
}

#[test]
fn demo_plays_every_platform_and_enforces_the_rules() {
    let out = messenger(&["demo"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let s = stdout(&out);
    for expected in [
        "== Telegram ==",
        "== WhatsApp ==",
        "customer  > [voice note, 1022 bytes downloaded, audio/ogg]",
        "downgrade: voice -> audio",
        "statuses  : all 6 messages went sent -> delivered -> read",
        "Telegram reports no delivery or read receipts",
        // WhatsApp: a new process knows no reply window, so WhatsApp decides, and says no
        // in a `failed` status.
        "operator  < text to a customer who never wrote: the SDK cannot know the window yet (Unknown: this process has watched for less than a day), so WhatsApp decides\n            WhatsApp accepted it, then reported it `failed` (outside_reply_window, code 131047)",
        "refused (opted_out), no request made",
        "refused (module_inactive), no request made",
        "| WhatsApp | 3 | 1090 B | 6 | 2 | 0 | 0 | read | yes | yes | yes, by the platform (outside_reply_window 131047) |",
        // VK: read receipts (one covers the messages before it), VK's own refusal of a
        // customer who never wrote, and an MP3 voice note it cannot take in any form.
        "== VK ==",
        "connected as Sandbox Demo Community (id 229000001)",
        "statuses  : all 4 messages went sent -> read (1 read receipt)",
        "the SDK sees no window here (NotApplicable); VK refused it (opted_out, code 901)",
        "voice note (MP3): refused before any request (invalid_input)",
        "| VK | 3 | 1090 B | 4 | 0 | 1 | 0 | read | yes | yes | yes, by the platform (opted_out 901) |",
        // MAX: uploads wait for processing (`attachment.not.ready`, retried by the connector),
        // a voice note goes as audio, and no receipts reach a bot.
        "== MAX ==",
        "connected as Sandbox Demo MAX Bot (id 500000001)",
        "operator  < image: 1 message sent\n            MAX refused 1 attempt first (HTTP 400 `attachment.not.ready`); retried until it was accepted",
        "downgrade: voice -> audio: the platform cannot send this kind",
        "MAX reports no delivery or read receipts to bots",
        "| MAX | 2 | 68 B | 6 | 2 | 0 | 3 | sent | yes | yes | none on this platform |",
        // Avito: OAuth (client credentials), text and images out (an image's caption as a
        // text of its own), voice in (resolved through getVoiceFiles at download), file and
        // voice out refused before any request, read statuses found by polling.
        "== Avito ==",
        "connected as Sandbox Demo Shop (id 94235311)",
        "customer  > [image, 68 bytes downloaded]\ncustomer  > Вот чек\ncustomer  > [voice note, 1022 bytes downloaded, audio/mp4]",
        "operator  < image: 2 messages sent\n            downgrade: image -> text: this kind takes no caption; caption sent as text",
        "voice note (MP3): refused before any request (unsupported)",
        "file (PDF): refused before any request (unsupported)",
        "statuses  : all 9 messages went sent -> read (9 read statuses, found by polling)",
        "| Avito | 4 | 1090 B | 9 | 2 | 2 | 0 | read | yes | yes | none on this platform |",
    ] {
        assert!(s.contains(expected), "missing {expected:?} in\n{s}");
    }
    // Telegram's flood control may refuse a send the stack then retries: the count varies.
    let telegram = s
        .lines()
        .find(|l| l.starts_with("| Telegram |"))
        .unwrap_or_else(|| panic!("no Telegram row in\n{s}"));
    assert!(
        telegram.starts_with("| Telegram | 3 | 1090 B | 6 | 1 | 0 | ")
            && telegram.ends_with(" | sent | yes | yes | none on this platform |"),
        "{telegram}"
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn send_and_listen_against_the_sandbox() {
    let rt = runtime();
    let (sandbox, demo) = rt.block_on(messenger_sandbox::run("127.0.0.1:0")).unwrap();
    let base = demo.urls.base.clone();
    let bot = demo
        .account(messenger_core::Platform::Telegram)
        .unwrap()
        .clone();
    let chat = bot.customer.id.clone();

    // send: text, then a file from disk (streamed, with its MIME type guessed).
    let out = messenger(&[
        "send",
        "--sandbox",
        &base,
        "--platform",
        "telegram",
        "--chat",
        &chat,
        "--text",
        "hello from the CLI",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("sent "), "{}", stdout(&out));
    let pdf = std::env::temp_dir().join(format!("cli-send-{}.pdf", std::process::id()));
    std::fs::write(&pdf, b"%PDF-1.4\n%%EOF\n").unwrap();
    let out = messenger(&[
        "send",
        "--sandbox",
        &base,
        "--platform",
        "telegram",
        "--chat",
        &chat,
        "--file",
        pdf.to_str().unwrap(),
        "--caption",
        "invoice",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let received = sandbox.received(&bot.account.id, &chat).unwrap();
    let kinds: Vec<&str> = received.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(kinds, ["text", "file"]);
    assert_eq!(received[0].text.as_deref(), Some("hello from the CLI"));
    assert_eq!(received[1].caption.as_deref(), Some("invoice"));

    // A large upload reports its progress on standard error.
    let big = std::env::temp_dir().join(format!("cli-send-big-{}.zip", std::process::id()));
    std::fs::write(&big, vec![7u8; 3 * 1024 * 1024]).unwrap();
    let out = messenger(&[
        "send",
        "--sandbox",
        &base,
        "--platform",
        "telegram",
        "--chat",
        &chat,
        "--file",
        big.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let progress = stderr(&out);
    assert!(progress.contains("uploading: 10% "), "{progress}");
    assert!(
        progress.contains("uploading: 100% (3145728 of 3145728 bytes)"),
        "{progress}"
    );
    let received = sandbox.received(&bot.account.id, &chat).unwrap();
    assert_eq!(received.len(), 3);
    assert_eq!(
        received[2].media.as_ref().and_then(|m| m.size),
        Some(3 * 1024 * 1024)
    );

    // listen: the customer writes; the CLI prints the event and stops after one.
    sandbox
        .customer_sends(
            &bot.account.id,
            &chat,
            &messenger_sandbox::CustomerMessage::text("a question"),
        )
        .unwrap();
    let out = messenger(&[
        "listen",
        "--sandbox",
        &base,
        "--platform",
        "telegram",
        "--count",
        "1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let event: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(event["type"], "message");
    assert_eq!(event["chat_id"], chat.as_str());
    assert_eq!(event["content"]["text"], "a question");
    rt.block_on(sandbox.shutdown());
}

#[test]
fn send_on_whatsapp_honours_window_and_otherwise_lets_the_platform_decide() {
    let rt = runtime();
    let (sandbox, demo) = rt.block_on(messenger_sandbox::run("127.0.0.1:0")).unwrap();
    let base = demo.urls.base.clone();
    let account = demo
        .account(messenger_core::Platform::WhatsApp)
        .unwrap()
        .account
        .id
        .clone();
    // A customer who never wrote to the number: WhatsApp's window is closed.
    let stranger = sandbox
        .create_customer(&account, &messenger_sandbox::NewCustomer::named("Oleg"))
        .unwrap()
        .id;
    let send = |extra: &[&str]| {
        let mut args = vec![
            "send",
            "--sandbox",
            &base,
            "--platform",
            "whatsapp",
            "--chat",
            &stranger,
            "--text",
            "Здравствуйте!",
        ];
        args.extend_from_slice(extra);
        messenger_within(&args, std::time::Duration::from_secs(60))
    };
    let sends = || {
        sandbox
            .requests(&account)
            .unwrap()
            .iter()
            .filter(|r| r.operation == "messages")
            .count()
    };

    // --window closed is honoured: refused before any request.
    let before = sends();
    let out = send(&["--window", "closed"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("outside_reply_window"),
        "{}",
        stderr(&out)
    );
    assert_eq!(sends(), before, "no message request");

    // Without --window a new process knows no window: the message goes, and the CLI says
    // that WhatsApp decides and where its verdict shows.
    let out = send(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("sent wamid."), "{}", stdout(&out));
    let note = stderr(&out);
    assert!(
        note.contains("reply window: unknown to this process")
            && note.contains("messenger listen --platform whatsapp"),
        "{note}"
    );
    assert_eq!(sends(), before + 1);
    // ...and WhatsApp's verdict: accepted, then failed with 131047.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let failed = loop {
        let received = sandbox.received(&account, &stranger).unwrap();
        if let Some(m) = received
            .iter()
            .find(|m| m.status == messenger_sandbox::MessageStatus::Failed)
        {
            break m.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failed status within 10 s: {received:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(failed.error.as_ref().map(|e| e.code), Some(131_047));
    rt.block_on(sandbox.shutdown());
}

/// Runs `messenger` with `args` and waits at most `limit` for it to exit (killed after that).
fn messenger_within(args: &[&str], limit: std::time::Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_messenger"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run messenger");
    let deadline = std::time::Instant::now() + limit;
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "messenger {args:?} did not finish within {limit:?}\n{}\n{}",
                stdout(&out),
                stderr(&out)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn send_and_listen_on_vk_against_the_sandbox() {
    let limit = std::time::Duration::from_secs(30);
    let rt = runtime();
    let (sandbox, demo) = rt.block_on(messenger_sandbox::run("127.0.0.1:0")).unwrap();
    let base = demo.urls.base.clone();
    let vk = demo.account(messenger_core::Platform::Vk).unwrap().clone();
    let (account, chat) = (vk.account.id.clone(), vk.customer.id.clone());

    // listen: the customer wrote; the Bots Long Poll prints the event, then the CLI stops.
    sandbox
        .customer_sends(
            &account,
            &chat,
            &messenger_sandbox::CustomerMessage::text("вопрос по заказу"),
        )
        .unwrap();
    let out = messenger_within(
        &[
            "listen",
            "--sandbox",
            &base,
            "--platform",
            "vk",
            "--count",
            "1",
        ],
        limit,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let event: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(event["type"], "message");
    assert_eq!(event["platform"], "vk");
    assert_eq!(event["chat_id"], chat.as_str());
    assert_eq!(event["content"]["text"], "вопрос по заказу");
    let polled: Vec<String> = sandbox
        .requests(&account)
        .unwrap()
        .into_iter()
        .map(|r| r.operation)
        .collect();
    assert!(
        polled.iter().any(|o| o == "groups.getLongPollServer"),
        "{polled:?}"
    );
    assert!(polled.iter().any(|o| o == "a_check"), "{polled:?}");

    // send: a text, then a document from disk (uploaded through docs.getMessagesUploadServer).
    let out = messenger_within(
        &[
            "send",
            "--sandbox",
            &base,
            "--platform",
            "vk",
            "--chat",
            &chat,
            "--text",
            "hello from the CLI",
        ],
        limit,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let sent = stdout(&out);
    assert!(sent.starts_with("sent "), "{sent}");
    let pdf = std::env::temp_dir().join(format!("cli-send-vk-{}.pdf", std::process::id()));
    std::fs::write(&pdf, b"%PDF-1.4\n%%EOF\n").unwrap();
    let out = messenger_within(
        &[
            "send",
            "--sandbox",
            &base,
            "--platform",
            "vk",
            "--chat",
            &chat,
            "--file",
            pdf.to_str().unwrap(),
            "--caption",
            "invoice",
        ],
        limit,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let received = sandbox.received(&account, &chat).unwrap();
    let kinds: Vec<&str> = received.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(kinds, ["text", "file"]);
    assert_eq!(received[0].text.as_deref(), Some("hello from the CLI"));
    assert_eq!(
        sent.split_whitespace().nth(1),
        Some(received[0].id.as_str()),
        "the printed id is VK's"
    );
    assert_eq!(received[1].caption.as_deref(), Some("invoice"));

    // A customer who never wrote: VK refuses (901), in one line.
    let stranger = sandbox
        .create_customer(&account, &messenger_sandbox::NewCustomer::named("Oleg"))
        .unwrap();
    let out = messenger_within(
        &[
            "send",
            "--sandbox",
            &base,
            "--platform",
            "vk",
            "--chat",
            &stranger.id,
            "--text",
            "x",
        ],
        limit,
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("opted_out") || err.contains("901"), "{err}");
    rt.block_on(sandbox.shutdown());
}

#[test]
fn send_and_listen_on_max_against_the_sandbox() {
    let limit = std::time::Duration::from_secs(30);
    let rt = runtime();
    let (sandbox, demo) = rt.block_on(messenger_sandbox::run("127.0.0.1:0")).unwrap();
    let base = demo.urls.base.clone();
    let max = demo.account(messenger_core::Platform::Max).unwrap().clone();
    let (account, customer) = (max.account.id.clone(), max.customer.id.clone());

    // listen: the customer wrote; `GET /updates` long polling prints the event.
    sandbox
        .customer_sends(
            &account,
            &customer,
            &messenger_sandbox::CustomerMessage::text("вопрос по заказу"),
        )
        .unwrap();
    let out = messenger_within(
        &[
            "listen",
            "--sandbox",
            &base,
            "--platform",
            "max",
            "--count",
            "1",
        ],
        limit,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let event: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(event["type"], "message");
    assert_eq!(event["platform"], "max");
    assert_eq!(event["sender"]["id"], customer.as_str());
    assert_eq!(event["content"]["text"], "вопрос по заказу");
    // The dialog has a chat id of its own: the answer goes there.
    let chat = event["chat_id"].as_str().unwrap().to_owned();
    assert_ne!(chat, customer);
    let operations: Vec<String> = sandbox
        .requests(&account)
        .unwrap()
        .into_iter()
        .map(|r| r.operation)
        .collect();
    assert!(
        operations.iter().any(|o| o == "GET /updates"),
        "{operations:?}"
    );

    // send: a text to the dialog, then a document to the user (`user:<id>`), uploaded in two
    // steps and sent again while MAX still processes it.
    let out = messenger_within(
        &[
            "send",
            "--sandbox",
            &base,
            "--platform",
            "max",
            "--chat",
            &chat,
            "--text",
            "hello from the CLI",
        ],
        limit,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let sent = stdout(&out);
    assert!(sent.starts_with("sent mid."), "{sent}");
    let pdf = std::env::temp_dir().join(format!("cli-send-max-{}.pdf", std::process::id()));
    std::fs::write(&pdf, b"%PDF-1.4\n%%EOF\n").unwrap();
    let out = messenger_within(
        &[
            "send",
            "--sandbox",
            &base,
            "--platform",
            "max",
            "--chat",
            &format!("user:{customer}"),
            "--file",
            pdf.to_str().unwrap(),
            "--caption",
            "invoice",
        ],
        limit,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let received = sandbox.received(&account, &customer).unwrap();
    let kinds: Vec<&str> = received.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(kinds, ["text", "file"]);
    assert_eq!(received[0].text.as_deref(), Some("hello from the CLI"));
    assert_eq!(
        sent.split_whitespace().nth(1),
        Some(received[0].id.as_str()),
        "the printed id is MAX's"
    );
    assert_eq!(received[1].caption.as_deref(), Some("invoice"));
    let not_ready = sandbox
        .requests(&account)
        .unwrap()
        .into_iter()
        .filter(|r| r.error.as_deref() == Some("attachment.not.ready"))
        .count();
    assert!(not_ready >= 1, "the upload waited for processing");
    rt.block_on(sandbox.shutdown());
}

#[test]
fn parse_avito_webhook_bodies() {
    let body = r#"{"id":"7f3c9a10-5b1e-4d2a-9c61-0b8e2f4a6d11","version":"v3.0.0","timestamp":1767225600,
        "payload":{"type":"message","value":{"id":"3e798a9bf88345ae8fe85ff891266b24",
        "chat_id":"u2i-y9ykWR1EkNOJJMaE9i9m8w","chat_type":"u2i","user_id":94235311,
        "author_id":51234567,"created":1767225600,"type":"voice",
        "content":{"voice":{"voice_id":"b1c2d3e4"}},"item_id":1768287444,"read":null}}}"#;
    let out = messenger_stdin(&["parse", "avito", "-"], body.as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    let events: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "message");
    assert_eq!(events[0]["platform"], "avito");
    assert_eq!(events[0]["chat_id"], "u2i-y9ykWR1EkNOJJMaE9i9m8w");
    assert_eq!(events[0]["sender"]["id"], "51234567");
    assert_eq!(events[0]["timestamp"], "2026-01-01T00:00:00Z");
    assert_eq!(events[0]["content"]["kind"], "voice");
    assert_eq!(events[0]["content"]["media"]["id"], "voice:b1c2d3e4");

    // The account's own message is not the customer's.
    let own = body.replace(r#""author_id":51234567"#, r#""author_id":94235311"#);
    let out = messenger_stdin(&["parse", "avito", "-"], own.as_bytes());
    let event: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(event["type"], "other");
    assert_eq!(event["chat_id"], "u2i-y9ykWR1EkNOJJMaE9i9m8w");

    let out = messenger_stdin(&["parse", "avito", "-"], b"{\"payload\": ");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("decode"), "{err}");
}

#[test]
fn send_and_listen_on_avito_against_the_sandbox() {
    use std::io::BufRead;

    let limit = std::time::Duration::from_secs(30);
    let rt = runtime();
    let (sandbox, demo) = rt.block_on(messenger_sandbox::run("127.0.0.1:0")).unwrap();
    let base = demo.urls.base.clone();
    let avito = demo
        .account(messenger_core::Platform::Avito)
        .unwrap()
        .clone();
    let (account, chat) = (avito.account.id.clone(), avito.customer.id.clone());

    // send: a text, then an image from disk (uploadImages, then messages/image).
    let out = messenger_within(
        &[
            "send",
            "--sandbox",
            &base,
            "--platform",
            "avito",
            "--chat",
            &chat,
            "--text",
            "Да, в наличии",
        ],
        limit,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let sent = stdout(&out);
    let text_id = sent.split_whitespace().nth(1).unwrap().to_owned();
    let png = std::env::temp_dir().join(format!("cli-send-avito-{}.png", std::process::id()));
    std::fs::write(
        &png,
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0",
    )
    .unwrap();
    let out = messenger_within(
        &[
            "send",
            "--sandbox",
            &base,
            "--platform",
            "avito",
            "--chat",
            &chat,
            "--image",
            png.to_str().unwrap(),
        ],
        limit,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let received = sandbox.received(&account, &chat).unwrap();
    let kinds: Vec<&str> = received.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(kinds, ["text", "image"]);
    assert_eq!(received[0].id, text_id, "the printed id is Avito's");
    assert_eq!(received[0].text.as_deref(), Some("Да, в наличии"));

    // A file cannot be sent to Avito: refused before any request, in one line.
    let pdf = std::env::temp_dir().join(format!("cli-send-avito-{}.pdf", std::process::id()));
    std::fs::write(&pdf, b"%PDF-1.4\n%%EOF\n").unwrap();
    let before = sandbox.requests(&account).unwrap().len();
    let out = messenger_within(
        &[
            "send",
            "--sandbox",
            &base,
            "--platform",
            "avito",
            "--chat",
            &chat,
            "--file",
            pdf.to_str().unwrap(),
        ],
        limit,
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("unsupported"), "{err}");
    let made: Vec<String> = sandbox
        .requests(&account)
        .unwrap()
        .into_iter()
        .skip(before)
        .map(|r| r.operation)
        .collect();
    assert!(
        made.iter().all(|o| o == "token" || o == "getUserInfoSelf"),
        "no send request: {made:?}"
    );

    // The customer reads the text; then listen, by webhook (Avito has no long polling), with
    // the read status of the text found by polling.
    sandbox
        .customer_reads(&account, &chat, Some(&text_id))
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_messenger"))
        .args([
            "listen",
            "--sandbox",
            &base,
            "--platform",
            "avito",
            "--port",
            "0",
            "--count",
            "2",
            "--track",
            &format!("{chat}:{text_id}"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut errors = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    errors.read_line(&mut first).unwrap();
    assert!(
        first.starts_with("webhook receiver at http://127.0.0.1:"),
        "{first}"
    );
    sandbox
        .customer_sends(
            &account,
            &chat,
            &messenger_sandbox::CustomerMessage::text("А доставка есть?"),
        )
        .unwrap();
    let deadline = std::time::Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("listen did not finish within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let events: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    let message = events.iter().find(|e| e["type"] == "message").unwrap();
    assert_eq!(message["chat_id"], chat.as_str());
    assert_eq!(message["content"]["text"], "А доставка есть?");
    let status = events.iter().find(|e| e["type"] == "status").unwrap();
    assert_eq!(status["status"], "read");
    assert_eq!(status["message_id"], text_id.as_str());
    rt.block_on(sandbox.shutdown());
}

/// Runs `messenger connect` with `args`, answering every question the connection flow asks
/// with `answer(the page it says to open)`; returns its output.
fn connect_with(args: &[&str], answer: impl Fn(&str) -> Vec<String>) -> Output {
    use std::io::BufRead;

    let mut child = Command::new(env!("CARGO_BIN_EXE_messenger"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run messenger");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut shown = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    // The page to open is the indented line after "Open this page".
    while let Some(Ok(l)) = lines.next() {
        assert!(std::time::Instant::now() < deadline, "connect hung");
        shown.push(l.clone());
        if let Some(url) = l.strip_prefix("  http") {
            for reply in answer(&format!("http{url}")) {
                stdin.write_all(reply.as_bytes()).unwrap();
                stdin.write_all(b"\n").unwrap();
            }
            break;
        }
        if l.starts_with("connected:") {
            break;
        }
    }
    drop(stdin);
    for l in lines.map_while(Result::ok) {
        shown.push(l);
    }
    let mut out = child.wait_with_output().unwrap();
    out.stdout = shown.join("\n").into_bytes();
    out
}

#[test]
fn connect_walks_avito_oauth_over_stdin_against_the_sandbox() {
    let rt = runtime();
    let (sandbox, demo) = rt.block_on(messenger_sandbox::run("127.0.0.1:0")).unwrap();
    let base = demo.urls.base.clone();
    let avito_root = demo
        .urls
        .platform(messenger_core::Platform::Avito)
        .unwrap()
        .to_owned();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();

    // The consent page "allows access" and lands on the sandbox's callback page: its address
    // is what the user pastes. A forged state is refused first, and asked again.
    let out = connect_with(&["connect", "avito", "--sandbox", &base], |page| {
        assert!(
            page.starts_with(&format!("{avito_root}/oauth?response_type=code")),
            "{page}"
        );
        let landed = rt
            .block_on(http.get(page).send())
            .unwrap()
            .url()
            .to_string();
        assert!(
            landed.starts_with(&format!("{avito_root}/oauth/callback?code=")),
            "{landed}"
        );
        let forged = format!("{avito_root}/oauth/callback?code=stolen&state=forged");
        vec![forged, landed]
    });
    let shown = stdout(&out);
    assert!(out.status.success(), "{shown}\n{}", stderr(&out));
    assert!(
        shown.contains("Open this page in a browser and allow access to the Avito account:"),
        "{shown}"
    );
    assert!(shown.contains("refused: "), "{shown}");
    assert!(
        shown.ends_with("connected: Avito account 94235311 (Sandbox Demo Shop)"),
        "{shown}"
    );
    assert!(
        !shown.contains("stolen"),
        "a refusal does not echo the code: {shown}"
    );
    let exchanged = sandbox
        .requests("94235311")
        .unwrap()
        .into_iter()
        .filter(|r| r.operation == "token" && r.status == 200)
        .count();
    assert_eq!(exchanged, 1, "one code exchanged");

    // A declined consent is refused with the reason.
    let out = connect_with(&["connect", "avito", "--sandbox", &base], |page| {
        let denied = format!("{page}&decision=deny");
        vec![
            rt.block_on(http.get(&denied).send())
                .unwrap()
                .url()
                .to_string(),
        ]
    });
    // The refusal names the reason and asks again; then the input ends and the walk fails.
    assert!(
        stdout(&out).contains("refused: ") && stdout(&out).contains("access_denied"),
        "{}",
        stdout(&out)
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("the input ended"), "{err}");

    // The business's own account, with its credentials alone; a platform without a flow too.
    for args in [
        vec!["connect", "avito", "--sandbox", &base, "--direct"],
        vec!["connect", "telegram", "--sandbox", &base],
    ] {
        let out = connect_with(&args, |_| panic!("no page to open"));
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).starts_with("connected: "), "{}", stdout(&out));
    }
    rt.block_on(sandbox.shutdown());
}

#[test]
fn send_without_credentials_says_what_to_set() {
    let out = Command::new(env!("CARGO_BIN_EXE_messenger"))
        .args([
            "send",
            "--platform",
            "telegram",
            "--chat",
            "1",
            "--text",
            "x",
        ])
        .env_remove("TELEGRAM_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("TELEGRAM_TOKEN"), "{err}");
}
