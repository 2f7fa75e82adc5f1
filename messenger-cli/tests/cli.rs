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
fn parse_refuses_platforms_without_connector() {
    let out = messenger_stdin(&["parse", "vk", "-"], b"{}");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no VK connector"), "{}", stderr(&out));
}

#[test]
fn demo_plays_every_platform_and_enforces_the_rules() {
    let out = messenger(&["demo"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let s = stdout(&out);
    for expected in [
        "== Telegram ==",
        "== WhatsApp ==",
        "downgrade: voice -> audio",
        "statuses  : all 6 messages went sent -> delivered -> read",
        "Telegram reports no delivery or read receipts",
        "refused (outside_reply_window), no request made",
        "refused (opted_out), no request made",
        "refused (module_inactive), no request made",
        "| Telegram | 2 | 68 B | 6 | 1 | sent | yes | yes | none on this platform |",
        "| WhatsApp | 2 | 68 B | 6 | 2 | read | yes | yes | yes |",
    ] {
        assert!(s.contains(expected), "missing {expected:?} in\n{s}");
    }
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
    let chat = demo.telegram_customer.id.clone();

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
    let received = sandbox.received(&demo.telegram.id, &chat).unwrap();
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
    let received = sandbox.received(&demo.telegram.id, &chat).unwrap();
    assert_eq!(received.len(), 3);
    assert_eq!(
        received[2].media.as_ref().and_then(|m| m.size),
        Some(3 * 1024 * 1024)
    );

    // listen: the customer writes; the CLI prints the event and stops after one.
    sandbox
        .customer_sends(
            &demo.telegram.id,
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
