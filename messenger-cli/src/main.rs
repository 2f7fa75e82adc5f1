//! `messenger`: the terminal front of messenger-connectors.
//!
//! ```text
//! messenger capabilities [--format markdown|json]
//! messenger plan --platform telegram --text "..." [--strict]
//! messenger plan --platform whatsapp --voice note.mp3 --caption "..."
//! messenger parse telegram update.json      # or - for stdin
//! messenger sandbox [--port 8085]
//! messenger send --platform telegram --chat 42 --text "..." [--sandbox URL]
//! messenger listen --platform whatsapp [--sandbox URL] [--count N]
//! messenger demo
//! ```

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use messenger_core::plan::ReplyWindow;
use messenger_core::{
    Capabilities, ContentKind, MediaSource, OutgoingContent, OutgoingMessage, Platform, Policy,
};

#[derive(Parser, Debug)]
#[command(
    name = "messenger",
    version,
    about = "Inspect, plan and parse messenger traffic"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print what every platform supports.
    Capabilities {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Markdown)]
        format: Format,
    },
    /// Dry-run the send planner: print each part and each downgrade.
    Plan(Box<PlanArgs>),
    /// Normalise a webhook body or a long-poll response into JSON Lines events.
    Parse {
        /// The platform the payload comes from.
        platform: Platform,
        /// A file, or `-` for standard input.
        input: PathBuf,
    },
    /// Run the local sandbox of the platform APIs until interrupted.
    Sandbox {
        /// The port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 8085)]
        port: u16,
    },
    /// Send a message through a real platform (credentials from the environment) or the sandbox.
    Send(Box<SendArgs>),
    /// Print inbound events as JSON Lines: long polling (Telegram) or a webhook receiver
    /// (WhatsApp) on 127.0.0.1.
    Listen {
        /// The platform.
        #[arg(long)]
        platform: Platform,
        /// Use the demo account of a sandbox started by `messenger sandbox` at this URL.
        #[arg(long)]
        sandbox: Option<String>,
        /// The webhook receiver's port (WhatsApp).
        #[arg(long, default_value_t = 8090)]
        port: u16,
        /// Stop after this many events.
        #[arg(long)]
        count: Option<usize>,
    },
    /// Start the sandbox in-process and play a scripted conversation on every platform.
    Demo,
}

#[derive(clap::Args, Debug)]
struct SendArgs {
    /// The chat (Telegram chat id, WhatsApp number).
    #[arg(long)]
    chat: String,
    /// Reply to this message id.
    #[arg(long)]
    reply_to: Option<String>,
    /// Use the demo account of a sandbox started by `messenger sandbox` at this URL.
    #[arg(long)]
    sandbox: Option<String>,
    #[command(flatten)]
    content: PlanArgs,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum Format {
    Markdown,
    Json,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum WindowArg {
    NotApplicable,
    Open,
    Closed,
}

#[derive(clap::Args, Debug)]
#[command(group = clap::ArgGroup::new("content").required(true).multiple(false))]
struct PlanArgs {
    /// The platform to plan for.
    #[arg(long)]
    platform: Platform,
    /// Send this text.
    #[arg(long, group = "content")]
    text: Option<String>,
    /// Send this file as an image.
    #[arg(long, group = "content")]
    image: Option<PathBuf>,
    /// Send this file as a document.
    #[arg(long, group = "content")]
    file: Option<PathBuf>,
    /// Send this file as a voice note.
    #[arg(long, group = "content")]
    voice: Option<PathBuf>,
    /// Send this file as an audio track.
    #[arg(long, group = "content")]
    audio: Option<PathBuf>,
    /// Send this file as a video.
    #[arg(long, group = "content")]
    video: Option<PathBuf>,
    /// Send media by public URL (with --as for the kind).
    #[arg(long, group = "content")]
    url: Option<url::Url>,
    /// The kind of the --url media.
    #[arg(long = "as", default_value = "file", requires = "url")]
    url_kind: String,
    /// A caption for the media.
    #[arg(long)]
    caption: Option<String>,
    /// The MIME type of the file (guessed from its extension otherwise).
    #[arg(long)]
    mime: Option<String>,
    /// Fail instead of degrading the content kind.
    #[arg(long)]
    strict: bool,
    /// The state of the platform's reply window (WhatsApp's 24 h).
    #[arg(long, value_enum, default_value_t = WindowArg::NotApplicable)]
    window: WindowArg,
    /// Print the text of each part, not only its length.
    #[arg(long)]
    show_text: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line: the reason, with its causes.
            let mut line = err.to_string();
            for cause in err.chain().skip(1) {
                line.push_str(": ");
                line.push_str(&cause.to_string());
            }
            let _ = writeln!(std::io::stderr(), "messenger: {line}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match cli.command {
        Command::Capabilities { format } => match format {
            Format::Markdown => {
                write!(
                    stdout,
                    "{}",
                    messenger_cli::matrix::all_platforms_markdown()
                )?;
            }
            Format::Json => {
                let caps: Vec<Capabilities> =
                    Platform::ALL.into_iter().map(Capabilities::of).collect();
                writeln!(stdout, "{}", serde_json::to_string_pretty(&caps)?)?;
            }
        },
        Command::Plan(args) => {
            let caps = Capabilities::of(args.platform);
            let message = plan_message(&args).await?;
            let window = match args.window {
                WindowArg::NotApplicable => ReplyWindow::NotApplicable,
                WindowArg::Open => ReplyWindow::Open,
                WindowArg::Closed => ReplyWindow::Closed,
            };
            let rendered = messenger_cli::plan::render(&message, &caps, window, args.show_text)?;
            write!(stdout, "{rendered}")?;
        }
        Command::Sandbox { port } => {
            let (_sandbox, demo) = messenger_sandbox::run(&format!("127.0.0.1:{port}")).await?;
            writeln!(stdout, "messenger sandbox at {}", demo.urls.base)?;
            writeln!(
                stdout,
                "  Telegram Bot API root: {}   (bot token: {})",
                demo.urls.telegram, demo.telegram.token
            )?;
            writeln!(
                stdout,
                "    customer {} (\"{}\") has started the bot",
                demo.telegram_customer.id, demo.telegram_customer.name
            )?;
            writeln!(
                stdout,
                "  WhatsApp Graph API root: {}   (phone-number id {}, token {}, app secret {})",
                demo.urls.whatsapp,
                messenger_sandbox::DEMO_WHATSAPP_PHONE_NUMBER_ID,
                messenger_sandbox::DEMO_WHATSAPP_TOKEN,
                messenger_sandbox::DEMO_WHATSAPP_APP_SECRET
            )?;
            writeln!(stdout, "    customer {}", demo.whatsapp_customer.id)?;
            writeln!(
                stdout,
                "  control API: {}   (play the customer, inject faults)",
                demo.urls.control
            )?;
            writeln!(stdout)?;
            writeln!(
                stdout,
                "try:  messenger send --sandbox {} --platform telegram --chat {} --text hello",
                demo.urls.base, demo.telegram_customer.id
            )?;
            writeln!(
                stdout,
                "      messenger listen --sandbox {} --platform telegram",
                demo.urls.base
            )?;
            writeln!(stdout, "Ctrl-C stops it.")?;
            stdout.flush()?;
            std::future::pending::<()>().await;
        }
        Command::Send(args) => {
            let platform = args.content.platform;
            let endpoint = match &args.sandbox {
                Some(url) => messenger_cli::connect::Endpoint::sandbox(platform, url)?,
                None => messenger_cli::connect::Endpoint::from_env(platform)?,
            };
            let messenger = endpoint.messenger(platform)?;
            let mut message = plan_message(&args.content).await?;
            message.chat = args.chat.clone().into();
            message.reply_to = args.reply_to.clone().map(Into::into);
            with_progress(&mut message);
            let report = messenger.send(&message).await?;
            for part in &report.parts {
                writeln!(
                    stdout,
                    "sent {} at {}",
                    part.message_id,
                    part.timestamp.to_rfc3339()
                )?;
            }
            for d in &report.downgrades {
                writeln!(stdout, "downgrade: {d}")?;
            }
        }
        Command::Listen {
            platform,
            sandbox,
            port,
            count,
        } => {
            let endpoint = match &sandbox {
                Some(url) => messenger_cli::connect::Endpoint::sandbox(platform, url)?,
                None => messenger_cli::connect::Endpoint::from_env(platform)?,
            };
            let messenger = endpoint.messenger(platform)?;
            let limit = count.unwrap_or(usize::MAX);
            if messenger.capabilities().intake.long_poll {
                let mut stream = messenger.updates()?;
                let mut seen = 0;
                while seen < limit {
                    let Some(event) = futures::StreamExt::next(&mut stream).await else {
                        break;
                    };
                    writeln!(stdout, "{}", serde_json::to_string(&event?)?)?;
                    stdout.flush()?;
                    seen += 1;
                }
            } else {
                let mut receiver =
                    messenger_cli::receiver::start(messenger, &format!("127.0.0.1:{port}")).await?;
                if let Some(url) = &sandbox {
                    let control = messenger_sandbox::Control::new(format!(
                        "{}/control",
                        url.trim_end_matches('/')
                    ))?;
                    control
                        .update_account(
                            messenger_sandbox::DEMO_WHATSAPP_PHONE_NUMBER_ID,
                            &messenger_sandbox::AccountPatch {
                                webhook_url: Some(receiver.url()),
                                ..Default::default()
                            },
                        )
                        .await?;
                }
                let _ = writeln!(std::io::stderr(), "webhook receiver at {}", receiver.url());
                let mut seen = 0;
                while seen < limit {
                    let Some(event) = receiver.events.recv().await else {
                        break;
                    };
                    match event {
                        Ok(event) => writeln!(stdout, "{}", serde_json::to_string(&event)?)?,
                        Err(err) => {
                            let _ = writeln!(std::io::stderr(), "rejected delivery: {err}");
                        }
                    }
                    stdout.flush()?;
                    seen += 1;
                }
            }
        }
        Command::Demo => {
            let started = std::time::Instant::now();
            let summaries = messenger_cli::demo::run(&mut stdout).await?;
            let ok = summaries.iter().all(|s| {
                s.opt_out_enforced && s.inactive_refused && s.window_enforced != Some(false)
            });
            writeln!(
                stdout,
                "\ndemo finished in {:.1} s",
                started.elapsed().as_secs_f64()
            )?;
            if !ok {
                bail!("a rule was not enforced (see the table)");
            }
        }
        Command::Parse { platform, input } => {
            let body = read_input(&input)?;
            let events = messenger_cli::parse::parse(platform, &body)
                .with_context(|| format!("cannot parse {} payload", platform.display_name()))?;
            write!(stdout, "{}", messenger_cli::parse::to_json_lines(&events)?)?;
        }
    }
    stdout.flush()?;
    Ok(())
}

/// Reports the progress of an upload on standard error, every 10 %.
fn with_progress(message: &mut OutgoingMessage) {
    let media = match &mut message.content {
        OutgoingContent::Image { media, .. }
        | OutgoingContent::File { media, .. }
        | OutgoingContent::Voice { media, .. }
        | OutgoingContent::Audio { media, .. }
        | OutgoingContent::Video { media, .. } => media,
        _ => return,
    };
    let MediaSource::Stream { open, length, .. } = media else {
        return;
    };
    let total = *length;
    if total < 1024 * 1024 {
        return;
    }
    let inner = open.clone();
    *open = std::sync::Arc::new(move || {
        let mut sent = 0u64;
        let mut shown = 0u64;
        Box::pin(futures::StreamExt::inspect(inner(), move |chunk| {
            if let Ok(bytes) = chunk {
                sent += bytes.len() as u64;
                let tenth = sent * 10 / total.max(1);
                if tenth > shown {
                    shown = tenth;
                    let _ = writeln!(
                        std::io::stderr(),
                        "uploading: {}% ({sent} of {total} bytes)",
                        tenth * 10
                    );
                }
            }
        }))
    });
}

fn read_input(input: &Path) -> anyhow::Result<Vec<u8>> {
    if input.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read standard input")?;
        Ok(buf)
    } else {
        std::fs::read(input).with_context(|| format!("cannot read {}", input.display()))
    }
}

async fn plan_message(args: &PlanArgs) -> anyhow::Result<OutgoingMessage> {
    let policy = if args.strict {
        Policy::Strict
    } else {
        Policy::Lenient
    };
    let content = if let Some(text) = &args.text {
        if args.caption.is_some() {
            bail!("--caption goes with media, not --text");
        }
        OutgoingContent::text(text.clone())
    } else if let Some(url) = &args.url {
        let kind = messenger_cli::plan::kind_from_flag(&args.url_kind)
            .filter(|k| *k != ContentKind::Text)
            .with_context(|| {
                format!(
                    "--as {}: expected image, file, voice, audio or video",
                    args.url_kind
                )
            })?;
        OutgoingContent::media(kind, MediaSource::url(url.clone()), args.caption.clone())
            .context("not a media kind")?
    } else {
        let (kind, path) = [
            (ContentKind::Image, &args.image),
            (ContentKind::File, &args.file),
            (ContentKind::Voice, &args.voice),
            (ContentKind::Audio, &args.audio),
            (ContentKind::Video, &args.video),
        ]
        .into_iter()
        .find_map(|(k, p)| p.as_ref().map(|p| (k, p)))
        .context("nothing to plan: give --text, --url or a media file")?;
        let mime = match &args.mime {
            Some(m) => m.clone(),
            None => mime_guess::from_path(path)
                .first_raw()
                .unwrap_or("application/octet-stream")
                .to_owned(),
        };
        let media = MediaSource::file(path, mime)
            .await
            .with_context(|| format!("cannot open {}", path.display()))?;
        OutgoingContent::media(kind, media, args.caption.clone()).context("not a media kind")?
    };
    Ok(OutgoingMessage::new("0", content).policy(policy))
}
