//! Refusing a transaction pooler (DESIGN §20): behind PgBouncer's `pool_mode = transaction`,
//! Supavisor, Neon's `-pooler` hosts or Supabase's port 6543, the server process behind one
//! client connection changes between transactions, so the session advisory lock
//! ([`crate::postgres::lock`]) stays with a server process that other clients then use, and two
//! deploys can migrate at once. The gate asks before any change whether the lock's
//! connection is a session, and refuses when it is not.
//!
//! One connection alone cannot always tell: a pooler that hands one client the same idle
//! server process every time (PgBouncer's default, with nobody else connected) looks like a
//! session from inside. So first the lock's session, in a new transaction, must still be on
//! its process and still hold the lock (`pg_locks`), which a pooler that moved it, or reset
//! the process between clients (`DISCARD ALL`), fails; then a second connection, made the
//! way the lock's was, asks for its own server process: a session pooler or a direct
//! connection must give it another one, since the lock's process is bound to the lock's
//! session; a transaction pooler gives it the lock's, idle again.
//!
//! Every query here is a simple query: a transaction pooler may run the parse and the
//! execution of a prepared statement on two different server processes.

use tokio_postgres::{Client, SimpleQueryMessage};

use crate::postgres::db;
use crate::postgres::lock::LOCK_KEY;

/// The lock's connection is not a session, or could not be asked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PoolerError {
    /// A transaction (or statement) pooler sits between schemagate and the server.
    #[error(
        "this connection goes through a transaction pooler ({evidence}); the migration lock needs a session: give schemagate the direct URL (Neon: the host without -pooler; Supabase: the direct connection db.<project>.supabase.co:5432 or the session pooler on port 5432, not port 6543; PgBouncer: the server itself or a pool with pool_mode = session; see docs/operations.md); nothing was changed"
    )]
    Transaction {
        /// What showed it.
        evidence: String,
    },
    /// A query of the check failed.
    #[error("cannot check that the migration lock's connection is a session: {}", db::describe(.0))]
    Query(#[source] tokio_postgres::Error),
}

impl PoolerError {
    /// Whether the check failed because a connection was lost (exit 4 rather than 1).
    pub(crate) fn connection_lost(&self) -> bool {
        matches!(self, PoolerError::Query(error) if db::connection_lost(error))
    }
}

/// Refuses unless `lock` (whose server process was `lock_pid` when it took the lock) is a
/// session of its own: `lock`, in a later transaction, must be on `lock_pid` still and hold
/// the migration lock, and `probe`, a second connection made the same way, must be given
/// another server process.
pub(crate) async fn ensure_session(
    lock: &Client,
    lock_pid: i32,
    probe: &Client,
) -> Result<(), PoolerError> {
    let [pid, held, server] = one_row::<3>(lock, &held_query()).await?;
    if pid != lock_pid.to_string() {
        return Err(PoolerError::Transaction {
            evidence: format!(
                "the lock's connection moved from server process {lock_pid} to {pid} between two transactions"
            ),
        });
    }
    if held != "t" {
        return Err(PoolerError::Transaction {
            evidence: format!(
                "server process {lock_pid} no longer held the migration lock in the next transaction"
            ),
        });
    }
    // Given the lock's process, the probe frees the lock there and then: the pooler keeps
    // that process, and a session lock with it, after schemagate has gone, while the
    // release sent on the lock's connection may reach another of the pooler's processes.
    // (On another server a process of the same pid holds no lock of the probe's: nothing.)
    let probe_query = format!(
        "SELECT pg_backend_pid(), pg_postmaster_start_time()::text, \
         CASE WHEN pg_backend_pid() = {lock_pid} THEN pg_advisory_unlock({LOCK_KEY}) END"
    );
    let [probe_pid, probe_server, _] = one_row::<3>(probe, &probe_query).await?;
    // The same pid on the same server (a URL of several hosts may lead elsewhere).
    if probe_pid == pid && probe_server == server {
        return Err(PoolerError::Transaction {
            evidence: format!(
                "a second connection was given the lock's server process, pid {lock_pid}"
            ),
        });
    }
    Ok(())
}

/// The session's server process, whether it holds the migration lock in this database, and
/// when its server started (which tells two servers apart).
fn held_query() -> String {
    format!(
        "SELECT pg_backend_pid(), EXISTS (SELECT FROM pg_locks l \
         WHERE l.locktype = 'advisory' AND l.granted AND l.pid = pg_backend_pid() \
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND ((l.classid::bigint << 32) | l.objid::bigint) = {LOCK_KEY} AND l.objsubid = 1), \
         pg_postmaster_start_time()::text"
    )
}

/// The text values of the first `N` columns of the one row `sql` returns.
async fn one_row<const N: usize>(client: &Client, sql: &str) -> Result<[String; N], PoolerError> {
    let messages = client.simple_query(sql).await.map_err(PoolerError::Query)?;
    let row = messages.iter().find_map(|message| match message {
        SimpleQueryMessage::Row(row) => Some(row),
        _ => None,
    });
    Ok(std::array::from_fn(|i| {
        row.and_then(|row| row.get(i))
            .unwrap_or_default()
            .to_owned()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postgres::testing::TestDatabase;

    /// The check's other signals, on a direct connection: the lock's session must still hold
    /// the lock, and still be the server process that took it.
    #[tokio::test]
    async fn the_check_wants_the_lock_held_by_the_same_server_process() {
        let db = TestDatabase::create().await;
        let lock = db.client().await;
        let probe = db.client().await;
        let pid = |row: tokio_postgres::Row| row.get::<_, i32>(0);
        let lock_pid = pid(lock
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .unwrap());
        let probe_pid = pid(probe
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .unwrap());

        let not_held = ensure_session(&lock, lock_pid, &probe).await.unwrap_err();
        assert!(
            not_held.to_string().contains(&format!(
                "server process {lock_pid} no longer held the migration lock"
            )),
            "{not_held}"
        );
        lock.execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
            .await
            .unwrap();
        ensure_session(&lock, lock_pid, &probe).await.unwrap();
        let moved = ensure_session(&lock, probe_pid, &probe).await.unwrap_err();
        assert!(
            moved.to_string().contains(&format!(
                "moved from server process {probe_pid} to {lock_pid} between two transactions"
            )),
            "{moved}"
        );
    }
}
