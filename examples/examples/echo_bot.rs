//! An echo bot on any platform with long polling, behind the full layer stack.
//!
//! ```sh
//! # against the real Bot API (credentials from the connector's environment variables)
//! TELEGRAM_TOKEN=123:abc cargo run -p messenger-examples --example echo_bot
//! # another platform
//! ECHO_PLATFORM=vk VK_TOKEN=... VK_GROUP_ID=... cargo run -p messenger-examples --example echo_bot
//! # or against the SDK's sandbox (`cargo run -p messenger-cli -- sandbox` in another terminal)
//! ECHO_PLATFORM=vk ECHO_SANDBOX=http://127.0.0.1:8085 cargo run -p messenger-examples --example echo_bot
//! ```
//!
//! It echoes every text back, answers media with what it received (kind and size, never the
//! content), and honours opt-outs: a customer who writes `СТОП` or `STOP` hears nothing more.
//! Ctrl-C stops it. The loop is [`messenger_examples::echo`], which `tests/echo.rs` runs against
//! the sandbox.

use messenger_core::Platform;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();

    let platform: Platform = std::env::var("ECHO_PLATFORM")
        .unwrap_or_else(|_| "telegram".into())
        .parse()
        .map_err(|e| anyhow::anyhow!("ECHO_PLATFORM: {e:?}"))?;
    let sandbox = std::env::var("ECHO_SANDBOX").ok();
    let bot = messenger_examples::connector(platform, sandbox.as_deref()).await?;
    let messenger = messenger_examples::stack(bot, "echo-bot").await?;
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let stats = messenger_examples::echo(messenger, stop).await?;
    tracing::info!(echoed = stats.echoed, skipped = stats.skipped, "stopped");
    Ok(())
}
