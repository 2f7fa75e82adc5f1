//! `messenger`: the terminal front of messenger-connectors.
//!
//! ```text
//! messenger capabilities [--format markdown|json]
//! messenger plan --platform telegram --text "..." [--strict]
//! messenger plan --platform whatsapp --voice note.mp3 --caption "..."
//! messenger parse telegram update.json      # or - for stdin
//! messenger parse vk callback.json
//! messenger parse max update.json
//! messenger parse avito webhook.json
//! messenger sandbox [--port 8085]
//! messenger send --platform telegram --chat 42 --text "..." [--sandbox URL]
//! messenger send --platform whatsapp --chat 16505551234 --text "..." [--window open|closed|unknown]
//! messenger listen --platform whatsapp [--sandbox URL] [--count N]
//! messenger listen --platform avito --track u2i-...:<message id>   # read statuses polled
//! messenger connect avito [--sandbox URL] [--direct]
//! messenger demo
//! messenger serve --config server.toml      # the module as a service
//! messenger serve --sandbox [--port 8080]   # the sandbox, its demo accounts, the server
//! ```

mod serve;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
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
    /// Print inbound events as JSON Lines: long polling where the platform has it (Telegram,
    /// MAX, VK) or a webhook receiver (WhatsApp, Avito) on 127.0.0.1, and the statuses a
    /// connector polls for where the platform pushes none (Avito's read statuses).
    Listen {
        /// The platform.
        #[arg(long)]
        platform: Platform,
        /// Use the demo account of a sandbox started by `messenger sandbox` at this URL.
        #[arg(long)]
        sandbox: Option<String>,
        /// The webhook receiver's port (WhatsApp, Avito).
        #[arg(long, default_value_t = 8090)]
        port: u16,
        /// Stop after this many events.
        #[arg(long)]
        count: Option<usize>,
        /// Watch the read status of a message the account sent, as `CHAT:MESSAGE` (repeatable),
        /// where the connector polls for read statuses (Avito).
        #[arg(long = "track", value_name = "CHAT:MESSAGE")]
        track: Vec<String>,
    },
    /// Connect an account and print its identity: through the platform's connection flow where
    /// it has one (Avito: the OAuth consent page, then the address the browser reached or the
    /// code, read from standard input), else with the credentials alone.
    Connect {
        /// The platform.
        platform: Platform,
        /// Use the demo account of a sandbox started by `messenger sandbox` at this URL.
        #[arg(long)]
        sandbox: Option<String>,
        /// Connect with the credentials alone, even where the platform has a flow (Avito:
        /// the client-credentials grant of the business's own account).
        #[arg(long)]
        direct: bool,
    },
    /// Start the sandbox in-process and play a scripted conversation on every platform.
    Demo,
    /// Run the messenger module as a service: webhooks and long polls of every account, the
    /// operator API, events, health and metrics (`--config FILE`), or all of it on the sandbox
    /// (`--sandbox`).
    Serve(serve::ServeArgs),
}

#[derive(clap::Args, Debug)]
struct SendArgs {
    /// The chat (Telegram chat id, WhatsApp number, MAX user id, VK peer id, Avito chat id).
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
    /// The platform has no reply window here.
    NotApplicable,
    /// The customer wrote within the window.
    Open,
    /// The window is closed: free-form messages are refused before any request.
    Closed,
    /// Nobody knows: the message goes and the platform decides.
    Unknown,
}

impl From<WindowArg> for ReplyWindow {
    fn from(arg: WindowArg) -> Self {
        match arg {
            WindowArg::NotApplicable => ReplyWindow::NotApplicable,
            WindowArg::Open => ReplyWindow::Open,
            WindowArg::Closed => ReplyWindow::Closed,
            WindowArg::Unknown => ReplyWindow::Unknown,
        }
    }
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
    /// The state of the platform's reply window (WhatsApp's 24 h), where you know it. `plan`:
    /// not-applicable unless given. `send`: unless given, the connector's own, and a new
    /// process knows no window (unknown: the message goes and the platform decides); given, it
    /// is used instead (closed refuses a free-form message before any request).
    #[arg(long, value_enum)]
    window: Option<WindowArg>,
    /// Print the text of each part, not only its length.
    #[arg(long)]
    show_text: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // Each connector's environment variables, from the registry, under the commands that read
    // them.
    let env = messenger_cli::registry::env_help();
    let command = Cli::command()
        .mut_subcommand("send", |c| c.after_long_help(env.clone()))
        .mut_subcommand("listen", |c| c.after_long_help(env.clone()))
        .mut_subcommand("connect", |c| c.after_long_help(env.clone()));
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
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
            let window = args.window.map_or(ReplyWindow::NotApplicable, Into::into);
            let rendered = messenger_cli::plan::render(&message, &caps, window, args.show_text)?;
            write!(stdout, "{rendered}")?;
        }
        Command::Sandbox { port } => {
            let (sandbox, demo) = messenger_sandbox::run(&format!("127.0.0.1:{port}")).await?;
            writeln!(stdout, "messenger sandbox at {}", demo.urls.base)?;
            for seeded in &demo.accounts {
                let platform = seeded.platform;
                let root = demo.urls.platform(platform).unwrap_or_default();
                writeln!(stdout, "  {} API root: {root}", platform.display_name())?;
                // Demo credentials are made up and printed on purpose, so a second terminal
                // (or a person) can use them.
                let credentials = sandbox.credentials(&seeded.account.id)?;
                for key in credentials
                    .keys()
                    .filter(|k| *k != messenger_core::registry::BASE_URL)
                {
                    writeln!(
                        stdout,
                        "    {key}: {}",
                        credentials.get(key).unwrap_or_default()
                    )?;
                }
                writeln!(
                    stdout,
                    "    customer {} (\"{}\")",
                    seeded.customer.id, seeded.customer.name
                )?;
            }
            writeln!(
                stdout,
                "  control API: {}   (play the customer, inject faults)",
                demo.urls.control
            )?;
            writeln!(stdout)?;
            if let Some(first) = demo.accounts.first() {
                writeln!(
                    stdout,
                    "try:  messenger send --sandbox {} --platform {} --chat {} --text hello",
                    demo.urls.base, first.platform, first.customer.id
                )?;
                writeln!(
                    stdout,
                    "      messenger listen --sandbox {} --platform {}",
                    demo.urls.base, first.platform
                )?;
            }
            writeln!(stdout, "Ctrl-C stops it.")?;
            stdout.flush()?;
            std::future::pending::<()>().await;
        }
        Command::Send(args) => {
            let platform = args.content.platform;
            let mut messenger = match &args.sandbox {
                Some(url) => messenger_cli::connect::from_sandbox(platform, url).await?.0,
                None => messenger_cli::connect::from_env(platform)?,
            };
            if let Some(window) = args.content.window {
                messenger = std::sync::Arc::new(messenger_cli::window::KnownWindow::new(
                    messenger,
                    window.into(),
                ));
            }
            let mut message = plan_message(&args.content).await?;
            message.chat = args.chat.clone().into();
            message.reply_to = args.reply_to.clone().map(Into::into);
            with_progress(&mut message);
            let window = messenger.reply_window(&message.chat).await?;
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
            if window == ReplyWindow::Unknown {
                let _ = writeln!(
                    std::io::stderr(),
                    "{}",
                    messenger_cli::window::unknown_window_note(platform)
                );
            }
        }
        Command::Listen {
            platform,
            sandbox,
            port,
            count,
            track,
        } => {
            let (account, sandbox_account) = match &sandbox {
                Some(url) => {
                    let (account, sandbox_account) =
                        messenger_cli::connect::open_from_sandbox(platform, url).await?;
                    (account, Some(sandbox_account))
                }
                None => (messenger_cli::connect::open_from_env(platform)?, None),
            };
            let watch = track
                .iter()
                .map(|t| {
                    let (chat, message) = t
                        .rsplit_once(':')
                        .filter(|(c, m)| !c.is_empty() && !m.is_empty())
                        .with_context(|| format!("--track {t}: expected CHAT:MESSAGE"))?;
                    Ok((chat.into(), message.into()))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let mut intake = messenger_cli::intake::Intake::start(
                account.messenger.clone(),
                &format!("127.0.0.1:{port}"),
            )
            .await?;
            match account.polled_statuses(&watch) {
                Some(statuses) => intake.add(statuses),
                None if !watch.is_empty() => bail!(
                    "--track: {} pushes its statuses; they arrive without it",
                    platform.display_name()
                ),
                None => {}
            }
            if let Some(url) = intake.webhook_url() {
                if let (Some(root), Some(sandbox_account)) = (&sandbox, &sandbox_account) {
                    let control = messenger_sandbox::Control::new(format!(
                        "{}/control",
                        root.trim_end_matches('/')
                    ))?;
                    control
                        .update_account(
                            &sandbox_account.id,
                            &messenger_sandbox::AccountPatch {
                                webhook_url: Some(url.to_owned()),
                                ..Default::default()
                            },
                        )
                        .await?;
                }
                let _ = writeln!(std::io::stderr(), "webhook receiver at {url}");
            }
            let limit = count.unwrap_or(usize::MAX);
            let mut seen = 0;
            while seen < limit {
                let Some(event) = intake.events.recv().await else {
                    break;
                };
                match event {
                    Ok(event) => writeln!(stdout, "{}", serde_json::to_string(&event)?)?,
                    Err(err) if intake.webhook_url().is_some() => {
                        let _ = writeln!(std::io::stderr(), "rejected delivery: {err}");
                    }
                    Err(err) => return Err(err.into()),
                }
                stdout.flush()?;
                seen += 1;
            }
        }
        Command::Connect {
            platform,
            sandbox,
            direct,
        } => {
            let account = match &sandbox {
                Some(url) => {
                    messenger_cli::connect::open_from_sandbox(platform, url)
                        .await?
                        .0
                }
                None => messenger_cli::connect::open_from_env(platform)?,
            };
            let flow = account.connection_flow(direct)?;
            let mut input = tokio::io::BufReader::new(tokio::io::stdin());
            let me = messenger_cli::connect::walk(flow.as_ref(), &mut input, &mut stdout).await?;
            writeln!(
                stdout,
                "connected: {} account {}{}{}",
                platform.display_name(),
                me.id,
                me.name
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default(),
                me.username
                    .as_deref()
                    .map(|u| format!(" @{u}"))
                    .unwrap_or_default(),
            )?;
        }
        Command::Serve(args) => {
            serve::run(args, &mut stdout).await?;
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
