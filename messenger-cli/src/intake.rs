//! Inbound events of one account as one channel, whatever their source: long polling where the
//! platform has it, else a webhook [receiver](crate::receiver) on loopback; and any further
//! stream (statuses a connector polls for) merged in. `messenger listen` and `messenger demo`
//! use it.

use std::any::Any;
use std::sync::Arc;

use futures::StreamExt;
use messenger_core::{EventStream, InboundEvent, Messenger, Result};
use tokio::sync::mpsc;

/// Aborts a forwarding task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The inbound events of one account, in the order each source gives them.
pub struct Intake {
    /// The events (an `Err` is a rejected webhook delivery or a fatal poll error).
    pub events: mpsc::UnboundedReceiver<Result<InboundEvent>>,
    tx: mpsc::UnboundedSender<Result<InboundEvent>>,
    webhook_url: Option<String>,
    keep: Vec<Box<dyn Any + Send>>,
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake")
            .field("webhook", &self.webhook_url.is_some())
            .field("sources", &self.keep.len())
            .finish_non_exhaustive()
    }
}

impl Intake {
    /// Starts intake for `messenger`: long polling ([`Messenger::updates`]) where its
    /// capabilities say it has it, else a webhook receiver on `webhook_addr` (e.g.
    /// `127.0.0.1:0`) whose URL [`webhook_url`](Self::webhook_url) gives, to register with the
    /// platform.
    pub async fn start(messenger: Arc<dyn Messenger>, webhook_addr: &str) -> anyhow::Result<Self> {
        let (tx, events) = mpsc::unbounded_channel();
        let mut intake = Self {
            events,
            tx,
            webhook_url: None,
            keep: Vec::new(),
        };
        if messenger.capabilities().intake.long_poll {
            intake.add(messenger.updates()?);
        } else {
            let mut receiver = crate::receiver::start(messenger, webhook_addr).await?;
            intake.webhook_url = Some(receiver.url());
            let mut rx = std::mem::replace(&mut receiver.events, mpsc::unbounded_channel().1);
            let tx = intake.tx.clone();
            let task = tokio::spawn(async move {
                while let Some(item) = rx.recv().await {
                    if tx.send(item).is_err() {
                        break;
                    }
                }
            });
            intake.keep.push(Box::new(receiver));
            intake.keep.push(Box::new(AbortOnDrop(task)));
        }
        Ok(intake)
    }

    /// The webhook receiver's URL, where intake is by webhook.
    pub fn webhook_url(&self) -> Option<&str> {
        self.webhook_url.as_deref()
    }

    /// Merges `stream` into the events (a connector's polled statuses).
    pub fn add(&mut self, mut stream: EventStream) {
        let tx = self.tx.clone();
        let task = tokio::spawn(async move {
            while let Some(item) = stream.next().await {
                if tx.send(item).is_err() {
                    break;
                }
            }
        });
        self.keep.push(Box::new(AbortOnDrop(task)));
    }
}
