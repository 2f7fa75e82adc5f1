//! Leases: one holder at a time per name, until the lease runs out, across every process on
//! the database. The server polls each long-polling account under a lease named after it, so
//! exactly one node polls an account, and another takes over when the holder stops renewing
//! (it died, or lost the database).
//!
//! A lease is taken only when it is free or expired, in one statement (an upsert guarded by
//! `until < now`), so two contenders never both get it. Every new holder bumps the lease's
//! `epoch`; a renewal names the epoch it holds, so a holder that lost its lease (it ran out and
//! someone else took it) cannot renew it back. Times are the processes' clocks: keep the nodes'
//! clocks synchronised (NTP) to well within the lease's length, and let a holder stop using a
//! lease a margin before it runs out ([`Lease::until`]).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::db::{Row, q};
use crate::error::{InboxError, Result};
use crate::inbox::Inbox;

/// A lease held (or seen held) by `holder` until `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// What it is a lease of (`poll:17`).
    pub name: String,
    /// Who holds it (a node's name).
    pub holder: String,
    /// The holder's term: grows with every new holder.
    pub epoch: i64,
    /// When it runs out unless renewed.
    pub until: DateTime<Utc>,
}

fn lease_from(r: &Row) -> Result<Lease> {
    Ok(Lease {
        name: r.text("name")?,
        holder: r.text("holder")?,
        epoch: r.i64("epoch")?,
        until: r.time("until")?,
    })
}

fn ttl(ttl: Duration) -> chrono::Duration {
    chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(15))
}

impl Inbox {
    /// Takes the lease `name` for `holder` for `length`, if it is free, expired, or already
    /// `holder`'s; `None` when someone else holds it.
    pub async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        length: Duration,
    ) -> Result<Option<Lease>> {
        if name.is_empty() || holder.is_empty() {
            return Err(InboxError::invalid("a lease needs a name and a holder"));
        }
        let now = crate::db::now();
        let until = now + ttl(length);
        let row = self
            .inner
            .db
            .opt(q!(
                "INSERT INTO leases (name, holder, until, epoch) VALUES ($1, $2, $3, 1)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until, epoch = leases.epoch + 1
                 WHERE leases.until < $4 OR leases.holder = excluded.holder
                 RETURNING name, holder, until, epoch",
                name,
                holder,
                until,
                now
            ))
            .await?;
        row.as_ref().map(lease_from).transpose()
    }

    /// Extends a held lease by `length` from now; `None` when it was lost (it ran out and
    /// another holder took it, or it was released).
    pub async fn renew_lease(&self, lease: &Lease, length: Duration) -> Result<Option<Lease>> {
        let now = crate::db::now();
        let until = now + ttl(length);
        let n = self
            .inner
            .db
            .exec(q!(
                "UPDATE leases SET until = $1 WHERE name = $2 AND holder = $3 AND epoch = $4 AND until >= $5",
                until,
                lease.name.as_str(),
                lease.holder.as_str(),
                lease.epoch,
                now
            ))
            .await?;
        Ok((n == 1).then(|| Lease {
            until,
            ..lease.clone()
        }))
    }

    /// Gives a lease up at once (another holder may take it right away).
    pub async fn release_lease(&self, lease: &Lease) -> Result<()> {
        self.inner
            .db
            .exec(q!(
                "UPDATE leases SET until = 0 WHERE name = $1 AND holder = $2 AND epoch = $3",
                lease.name.as_str(),
                lease.holder.as_str(),
                lease.epoch
            ))
            .await?;
        Ok(())
    }

    /// The lease `name` as stored (held if its `until` is in the future).
    pub async fn lease(&self, name: &str) -> Result<Option<Lease>> {
        let row = self
            .inner
            .db
            .opt(q!(
                "SELECT name, holder, until, epoch FROM leases WHERE name = $1",
                name
            ))
            .await?;
        row.as_ref().map(lease_from).transpose()
    }
}
