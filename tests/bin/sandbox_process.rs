//! The sandbox in a process of its own, so that its memory can be read apart from a client's
//! (`tests/tests/memory.rs` reads this process's `VmRSS` and `VmHWM`).
//!
//! `sandbox-process [--rate-limits]` starts a sandbox on `127.0.0.1:0` (without its emulated
//! rate limits unless asked) and prints one line, `ready <base URL> <media folder>`. Then it
//! takes one command a line on standard input and answers each with one line, `ok <JSON>` or
//! `err <message>`:
//!
//! - `customer-file <account> <customer> <kind> <mime type> <path>`: the customer sends the
//!   file at `<path>` to the account, as `customer_sends` with media of `<kind>` (`file`,
//!   `image`, ...). The control API takes a customer's media as bytes, so the file is read into
//!   memory here first (a reader of this process's memory resets its peak after this).
//!   Answers the [`InboundReceipt`](messenger_sandbox::InboundReceipt).
//!
//! The end of standard input shuts the sandbox down (its media folder is removed) and ends
//! the process.

use std::io::{BufRead, Write};

use messenger_sandbox::{CustomerMessage, MediaUpload, MessageKind, Sandbox, SandboxConfig};

fn answer(line: &str) {
    let mut out = std::io::stdout().lock();
    // A reader that went away ends the process at the next read of standard input anyway.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn kind(name: &str) -> Option<MessageKind> {
    Some(match name {
        "image" => MessageKind::Image,
        "file" => MessageKind::File,
        "voice" => MessageKind::Voice,
        "audio" => MessageKind::Audio,
        "video" => MessageKind::Video,
        _ => return None,
    })
}

fn customer_file(sandbox: &Sandbox, args: &[&str]) -> Result<String, String> {
    let [account, customer, kind_name, mime, path] = args else {
        return Err("usage: customer-file <account> <customer> <kind> <mime type> <path>".into());
    };
    let kind = kind(kind_name).ok_or_else(|| format!("unknown kind {kind_name}"))?;
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the file: {e}"))?;
    let file_name = std::path::Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    let mut upload = MediaUpload::new(kind, bytes).mime_type(*mime);
    if let Some(name) = file_name {
        upload = upload.file_name(name);
    }
    let receipt = sandbox
        .customer_sends(account, customer, &CustomerMessage::media(upload))
        .map_err(|e| e.to_string())?;
    serde_json::to_string(&receipt).map_err(|e| e.to_string())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rate_limits = std::env::args().any(|a| a == "--rate-limits");
    let config = if rate_limits {
        SandboxConfig::default()
    } else {
        SandboxConfig::default().without_rate_limits()
    };
    let sandbox = match Sandbox::start_with("127.0.0.1:0", config).await {
        Ok(sandbox) => sandbox,
        Err(err) => {
            answer(&format!("err {err}"));
            std::process::exit(1);
        }
    };
    answer(&format!(
        "ready {} {}",
        sandbox.urls().base,
        sandbox.media_dir().display()
    ));

    // Standard input is read on a thread of its own; the runtime keeps serving meanwhile.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    while let Some(line) = rx.recv().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        let result = match words.split_first() {
            Some((&"customer-file", args)) => {
                tokio::task::block_in_place(|| customer_file(&sandbox, args))
            }
            Some((command, _)) => Err(format!("unknown command {command}")),
            None => continue,
        };
        match result {
            Ok(json) => answer(&format!("ok {json}")),
            Err(err) => answer(&format!("err {err}")),
        }
    }
    sandbox.shutdown().await;
}
