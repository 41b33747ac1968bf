//! The migration lock: a session-level advisory lock on a dedicated connection, so that of
//! N replicas starting together exactly one changes the schema (DESIGN §1.3).
//!
//! Session-level (not transaction-level) so it can be held across the backup and many
//! migration transactions; tied to the connection, so a killed process frees it with its
//! socket. Polling `pg_try_advisory_lock` instead of blocking in `pg_advisory_lock` lets us
//! enforce `--lock-timeout` and log who holds it while we wait.
//!
//! The lock lives as long as its session, and that session sits idle while a child process
//! (`pg_dump`, the restore's `psql`) works on its own connection. So the session is told
//! never to time out idle, TCP keepalives are on (`db`), and the gate
//! checks it every few seconds while the child runs ([`MigrationLock::lost`]): a lock that died is noticed, the child
//! stopped, and no further step starts.
//!
//! An instance that is still waiting holds nothing, so losing its session (a server
//! restart, a failover) costs it nothing either: it reconnects as its first connection did
//! and goes on waiting.

use std::time::{Duration, Instant};

use tokio_postgres::Client;

use crate::engine::LockWait;
use crate::gate::{Error, Exit};
use crate::postgres::db::{self, DbError};
use crate::postgres::{PgSession, Target};

/// The advisory lock key, the same for every schemagate: `hashtext('schemagate')` would do,
/// but a literal is stable across PostgreSQL versions.
pub(crate) const LOCK_KEY: i64 = 0x7363_6865_6d61_6761; // "schemaga"

/// How often a waiting instance tries again.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How often a waiting instance logs who holds the lock.
const REPORT_INTERVAL: Duration = Duration::from_secs(5);

/// How often the lock's session is checked while a child process works.
const LIVENESS_INTERVAL: Duration = Duration::from_secs(2);

/// The lock could not be taken or released.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LockError {
    /// Another instance held it for longer than `--lock-timeout`.
    #[error(
        "migration lock not acquired within {timeout:?}; held by {holder}; wait for it to finish, or stop it if it is stuck, then retry (or raise --lock-timeout)"
    )]
    Timeout {
        /// The timeout.
        timeout: Duration,
        /// Who held it when we gave up.
        holder: String,
    },
    /// The lock query failed.
    #[error("migration lock query failed: {}", crate::postgres::db::describe(.0))]
    Query(#[source] tokio_postgres::Error),
    /// The lock's session ended (terminated, server restart, network) while it was held.
    #[error("the migration lock was lost ({0})")]
    Lost(String),
    /// The session waiting for the lock ended, and no new one could be made within the
    /// connect timeout.
    #[error("the session waiting for the migration lock was lost, and reconnecting failed")]
    Reconnect(#[source] DbError),
}

/// A new session in place of a lost one, made the way the first was (retrying until the
/// connect timeout), set up for the lock.
async fn reconnect(target: &Target) -> Result<Client, LockError> {
    let client = db::connect(
        &target.connection,
        &target.application_name,
        target.connect_timeout,
    )
    .await
    .map_err(LockError::Reconnect)?;
    watch_the_client(&client).await?;
    Ok(client)
}

/// The held migration lock and the connection that holds it.
///
/// Dropping it without [`MigrationLock::release`] closes the connection, which frees the
/// lock too: every path releases it.
pub(crate) struct MigrationLock {
    pub(crate) session: PgSession,
    waited: Duration,
}

impl MigrationLock {
    /// Takes the lock on `session` (exit 7 when `wait.timeout` runs out, 4 when the server
    /// cannot be reached again).
    pub(crate) async fn acquire(mut session: PgSession, wait: LockWait<'_>) -> Result<Self, Error> {
        let (client, waited, pid) = Self::poll(session.client, &session.target, wait)
            .await
            .map_err(|e| match e {
                LockError::Timeout { .. } => Error::new(Exit::LockTimeout, e),
                LockError::Query(ref source) if db::connection_lost(source) => {
                    Error::new(Exit::Unreachable, e)
                }
                LockError::Reconnect(_) => Error::new(Exit::Unreachable, e),
                _ => Error::new(Exit::Internal, e),
            })?;
        session.client = client;
        session.pid = Some(pid);
        Ok(Self { session, waited })
    }

    /// Polls for the lock until `timeout`; while it waits, tells `waiting` who holds it at
    /// once and then every [`REPORT_INTERVAL`] (for the log and `/health`). A session lost
    /// while waiting is replaced by a new one made the same way.
    #[tracing::instrument(skip_all)]
    async fn poll(
        mut client: Client,
        target: &Target,
        wait: LockWait<'_>,
    ) -> Result<(Client, Duration, i32), LockError> {
        let LockWait { timeout, waiting } = wait;
        let started = Instant::now();
        if let Err(error) = watch_the_client(&client).await {
            client = replace_lost(error, target).await?;
        }
        let mut next_report = Duration::ZERO;
        loop {
            let row = match client
                .query_one(
                    "SELECT pg_try_advisory_lock($1), pg_backend_pid()",
                    &[&LOCK_KEY],
                )
                .await
            {
                Ok(row) => row,
                Err(error) => {
                    client = replace_lost(LockError::Query(error), target).await?;
                    // A server that keeps dropping sessions must not outlast the timeout.
                    if started.elapsed() >= timeout {
                        return Err(timed_out(&client, timeout).await);
                    }
                    continue;
                }
            };
            if row.get::<_, bool>(0) {
                let waited = started.elapsed();
                tracing::debug!(?waited, "migration lock acquired");
                return Ok((client, waited, row.get(1)));
            }
            let waited = started.elapsed();
            if waited >= timeout {
                return Err(timed_out(&client, timeout).await);
            }
            if waited >= next_report {
                let holder = holder(&client).await;
                tracing::info!(%holder, ?waited, "waiting for the migration lock");
                waiting(&holder);
                next_report = waited + REPORT_INTERVAL;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// How long acquiring took.
    pub(crate) fn waited(&self) -> Duration {
        self.waited
    }

    /// Completes only when the lock's session is found dead, checking it every
    /// [`LIVENESS_INTERVAL`] while a child process works on a connection of its own.
    pub(crate) async fn lost(&self) -> LockError {
        let mut ticks = tokio::time::interval(LIVENESS_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if let Err(error) = self.check().await {
                return error;
            }
        }
    }

    /// Whether the lock's session is still there (one cheap round trip).
    async fn check(&self) -> Result<(), LockError> {
        self.session
            .client
            .simple_query("SELECT 1")
            .await
            .map(drop)
            .map_err(|e| LockError::Lost(crate::postgres::db::describe(&e)))
    }

    /// Releases the lock; the connection closes with it.
    pub(crate) async fn release(self) -> Result<(), LockError> {
        self.session
            .client
            .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
            .await
            .map(drop)
            .map_err(LockError::Query)
    }
}

/// The lock was not acquired within `timeout`: who holds it.
async fn timed_out(client: &Client, timeout: Duration) -> LockError {
    LockError::Timeout {
        timeout,
        holder: holder(client).await,
    }
}

/// A new session in place of one that `error` says was lost; any other error is returned.
async fn replace_lost(error: LockError, target: &Target) -> Result<Client, LockError> {
    match error {
        LockError::Query(lost) if db::connection_lost(&lost) => {
            tracing::warn!(
                error = %db::describe(&lost),
                "the session waiting for the migration lock was lost; reconnecting"
            );
            reconnect(target).await
        }
        other => Err(other),
    }
}

/// Asks the server to check the client socket during long statements (PostgreSQL 14+), so
/// that when schemagate is killed mid-migration its statement is cancelled and the lock
/// freed within a second, instead of when the statement would have finished; and never to
/// end the session for idling (a server-wide `idle_session_timeout` or
/// `idle_in_transaction_session_timeout` would drop the lock during a long backup).
async fn watch_the_client(client: &Client) -> Result<(), LockError> {
    client
        .batch_execute(
            "SET idle_in_transaction_session_timeout = 0; \
             SELECT set_config('client_connection_check_interval', '1s', false), \
                    set_config('idle_session_timeout', '0', false) \
             WHERE current_setting('server_version_num')::int >= 140000",
        )
        .await
        .map_err(LockError::Query)
}

/// Describes the session holding the lock: pid, application_name, since when, what it runs.
async fn holder(client: &Client) -> String {
    const QUERY: &str = "SELECT a.pid, a.application_name, a.backend_start::text, a.state, left(a.query, 80) \
        FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
        WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
        AND ((l.classid::bigint << 32) | l.objid::bigint) = $1 AND l.objsubid = 1";
    match client.query_opt(QUERY, &[&LOCK_KEY]).await {
        Ok(Some(row)) => format!(
            "pid {} ({}), connected since {}, {}: {}",
            row.get::<_, i32>(0),
            row.get::<_, Option<String>>(1).unwrap_or_default(),
            row.get::<_, Option<String>>(2).unwrap_or_default(),
            row.get::<_, Option<String>>(3).unwrap_or_default(),
            row.get::<_, Option<String>>(4).unwrap_or_default(),
        ),
        Ok(None) => "nobody (it was just released)".to_owned(),
        Err(e) => format!("unknown ({})", crate::postgres::db::describe(&e)),
    }
}
