//! Notifications: one stream per employee, filtered by their rights; across processes through
//! PostgreSQL `LISTEN`/`NOTIFY`.
//!
//! Every change is published in the process that made it, at once, and (on PostgreSQL) with a
//! `NOTIFY` on the schema's channel, sent after the change committed. Each inbox listens on
//! that channel and republishes what other processes sent. Notifications carry ids only; a
//! subscriber reads the content through the inbox, by right.
//!
//! A notification is lost when the listening connection is (PostgreSQL does not queue them for
//! a session that is gone) or when a subscriber falls too far behind: in both cases subscribers
//! get [`Notification::Resync`] and re-read state (unread counts are derived from last-seen
//! marks, so re-reading them is exact).

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};

use crate::db::q;
use crate::error::{InboxError, Result};
use crate::inbox::Inbox;
use crate::model::{AccountKey, EmployeeId, Notification, Role, WorkspaceId};
use crate::rights::{Action, Target};

/// How many notifications a slow subscriber may fall behind before it gets a `Resync`.
const CAPACITY: usize = 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Envelope {
    /// `None`: every workspace (a `Resync`).
    workspace: Option<WorkspaceId>,
    notification: Notification,
}

#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    origin: String,
    workspace: WorkspaceId,
    notification: Notification,
}

/// The in-process fan-out.
pub(crate) struct Hub {
    instance: String,
    tx: broadcast::Sender<Envelope>,
    stop: Mutex<Option<watch::Sender<bool>>>,
}

impl Hub {
    pub(crate) fn new(instance: String) -> Self {
        Self {
            instance,
            tx: broadcast::channel(CAPACITY).0,
            stop: Mutex::new(None),
        }
    }

    pub(crate) fn instance(&self) -> &str {
        &self.instance
    }

    pub(crate) fn publish(&self, workspace: WorkspaceId, notification: Notification) {
        let _ = self.tx.send(Envelope {
            workspace: Some(workspace),
            notification,
        });
    }

    fn publish_all(&self, notification: Notification) {
        let _ = self.tx.send(Envelope {
            workspace: None,
            notification,
        });
    }

    pub(crate) fn stop_listener(&self) {
        if let Some(stop) = self.stop.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = stop.send(true);
        }
    }
}

/// Publishes `notification` in this process and, on PostgreSQL, to the others.
pub(crate) async fn publish(inbox: &Inbox, workspace: WorkspaceId, notification: Notification) {
    inbox.inner.hub.publish(workspace, notification.clone());
    notify_remote(inbox, workspace, &notification).await;
}

/// `NOTIFY` the other processes (PostgreSQL only; a failure is logged: they resync later).
pub(crate) async fn notify_remote(inbox: &Inbox, workspace: WorkspaceId, n: &Notification) {
    let db = &inbox.inner.db;
    if db.pg_pool().is_none() {
        return;
    }
    let payload = match serde_json::to_string(&Wire {
        origin: inbox.inner.hub.instance.clone(),
        workspace,
        notification: n.clone(),
    }) {
        Ok(p) => p,
        Err(_) => return,
    };
    if let Err(e) = db
        .exec(q!("SELECT pg_notify($1, $2)", db.channel(), payload))
        .await
    {
        tracing::warn!(kind = %e.kind(), "could not notify other processes");
    }
}

/// Starts the PostgreSQL listener of `inbox` (nothing on SQLite).
pub(crate) async fn start_listener(inbox: &Inbox) -> Result<()> {
    let Some(pool) = inbox.inner.db.pg_pool() else {
        return Ok(());
    };
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
    listener.listen(inbox.inner.db.channel()).await?;
    let (stop_tx, mut stop) = watch::channel(false);
    *inbox
        .inner
        .hub
        .stop
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some(stop_tx);
    let tx = inbox.inner.hub.tx.clone();
    let me = inbox.inner.hub.instance.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                received = listener.try_recv() => match received {
                    Ok(Some(n)) => {
                        let Ok(wire) = serde_json::from_str::<Wire>(n.payload()) else {
                            tracing::warn!("an unreadable notification was ignored");
                            continue;
                        };
                        if wire.origin != me {
                            let _ = tx.send(Envelope {
                                workspace: Some(wire.workspace),
                                notification: wire.notification,
                            });
                        }
                    }
                    Ok(None) => {
                        // The connection was lost (and is re-established): whatever was sent
                        // meanwhile is gone; subscribers re-read.
                        tracing::warn!("notification listener reconnected; subscribers resync");
                        let _ = tx.send(Envelope { workspace: None, notification: Notification::Resync });
                    }
                    Err(e) => {
                        tracing::warn!(kind = %InboxError::from(e).kind(), "notification listener failed; retrying");
                        let _ = tx.send(Envelope { workspace: None, notification: Notification::Resync });
                        tokio::select! {
                            _ = stop.changed() => break,
                            () = tokio::time::sleep(Duration::from_millis(500)) => {}
                        }
                    }
                }
            }
        }
    });
    Ok(())
}

/// An employee's notifications, filtered by their rights at the time each one arrives (a grant
/// changed mid-stream applies to what follows). Ends when the employee is removed.
pub struct NotificationStream {
    inner: Pin<Box<dyn Stream<Item = Notification> + Send>>,
}

impl std::fmt::Debug for NotificationStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationStream").finish_non_exhaustive()
    }
}

impl Stream for NotificationStream {
    type Item = Notification;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Notification>> {
        self.inner.as_mut().poll_next(cx)
    }
}

struct SubState {
    rx: broadcast::Receiver<Envelope>,
    inbox: Inbox,
    employee: EmployeeId,
    workspace: WorkspaceId,
    owner: bool,
    /// `None`: every account (an owner).
    readable: Option<HashSet<AccountKey>>,
}

impl SubState {
    /// Re-reads the employee's rights; `false` when they can no longer act.
    async fn reload(&mut self) -> bool {
        let Ok(actor) = self
            .inbox
            .check(self.employee, Action::Subscribe, Target::Workspace)
            .await
        else {
            return false;
        };
        self.owner = actor.employee.role == Role::Owner;
        match self.inbox.readable_accounts(&actor.employee).await {
            Ok(r) => {
                self.readable = r.map(|v| v.into_iter().collect());
                true
            }
            Err(_) => false,
        }
    }

    fn visible(&self, n: &Notification) -> bool {
        match n {
            Notification::SubjectRequest { .. } => self.owner,
            Notification::GrantsChanged { employee } => *employee == self.employee,
            Notification::Resync => true,
            other => match (other.account(), &self.readable) {
                (Some(_), None) => true,
                (Some(a), Some(set)) => set.contains(&a),
                (None, _) => false,
            },
        }
    }
}

impl Inbox {
    /// The notification stream of `employee`: new messages, statuses, maybe-sent sends,
    /// assignments and contact changes on accounts they can read; subject requests for owners.
    /// For a server-sent-events route: one stream per connection.
    pub async fn subscribe(&self, employee: EmployeeId) -> Result<NotificationStream> {
        let actor = self
            .check(employee, Action::Subscribe, Target::Workspace)
            .await?;
        let rx = self.inner.hub.tx.subscribe();
        let mut state = SubState {
            rx,
            inbox: self.clone(),
            employee,
            workspace: actor.workspace(),
            owner: actor.employee.role == Role::Owner,
            readable: None,
        };
        if !state.reload().await {
            return Err(InboxError::forbidden("subscribe"));
        }
        let stream = futures::stream::unfold(state, |mut st| async move {
            loop {
                match st.rx.recv().await {
                    Ok(env) => {
                        if env.workspace.is_some_and(|w| w != st.workspace) {
                            continue;
                        }
                        let n = env.notification;
                        let refresh = matches!(n, Notification::Resync)
                            || matches!(n, Notification::GrantsChanged { employee } if employee == st.employee);
                        if refresh && !st.reload().await {
                            return None;
                        }
                        if st.visible(&n) {
                            return Some((n, st));
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if !st.reload().await {
                            return None;
                        }
                        return Some((Notification::Resync, st));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        Ok(NotificationStream {
            inner: Box::pin(stream),
        })
    }

    /// Tells every subscriber in this process to re-read state (after a maintenance, or to
    /// test a reconnect).
    pub fn resync_subscribers(&self) {
        self.inner.hub.publish_all(Notification::Resync);
    }
}
