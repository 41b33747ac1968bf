//! The migration lock: a named user lock (`GET_LOCK`) held by a session of its own, which
//! the server frees the moment that session ends, however the holder died.
//!
//! `GET_LOCK(name, 0)` is polled rather than given a timeout, so the waiter can say who
//! holds it (from `IS_USED_LOCK` and the process list) when it starts waiting and every
//! ten seconds. The name is per database (`schemagate:<database>`): user locks are
//! server-wide, and two applications on one server must not wait for each other.
//!
//! The lock is not lost by DDL (each statement's implicit commit ends transactions, not
//! sessions); it is lost only with its session, which [`Held::still_held`] checks
//! from another session (the lock's own is busy running steps).

use std::time::Duration;

use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use sha2::{Digest as _, Sha256};

use super::literal;

/// How often a waiter asks again.
const POLL: Duration = Duration::from_millis(250);

/// How often a waiter says again who holds the lock.
const TELL_EVERY: Duration = Duration::from_secs(10);

/// The server's longest lock name.
const MAX_NAME: usize = 64;

/// The lock, held by a session (which the caller keeps and runs the change on).
#[derive(Debug, Clone)]
pub(crate) struct Held {
    /// The lock's name.
    pub name: String,
    /// The holding session's connection id.
    pub connection_id: u64,
    /// How long taking it took.
    pub waited: Duration,
}

/// The lock could not be taken, or checked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LockError {
    /// Another session held it for the whole wait (exit 7).
    #[error("the migration lock {name:?} is held by {holder} and was not free within {timeout:?}")]
    Timeout {
        name: String,
        holder: String,
        timeout: Duration,
    },
    /// The server refused a lock query.
    #[error("cannot {action} the migration lock: {message}")]
    Query {
        action: &'static str,
        message: String,
        connection_lost: bool,
    },
}

impl LockError {
    fn query(action: &'static str) -> impl FnOnce(mysql_async::Error) -> Self {
        move |e| Self::Query {
            action,
            message: super::error::describe(&e),
            connection_lost: super::error::connection_lost(&e),
        }
    }
}

/// The lock's name for a database: `schemagate:<database>`, or a hash of it where the
/// database's name makes it longer than the server takes.
pub(crate) fn lock_name(database: &str) -> String {
    let name = format!("schemagate:{database}");
    if name.len() <= MAX_NAME {
        return name;
    }
    let digest = Sha256::digest(database.as_bytes());
    format!("schemagate:{}", &hex::encode(digest)[..40])
}

/// Takes the lock of `database` on `conn`, waiting up to `timeout`; `waiting` is told the
/// holder at once and then every ten seconds.
pub(crate) async fn acquire(
    conn: &mut Conn,
    database: &str,
    timeout: Duration,
    waiting: &mut (dyn FnMut(&str) + Send),
) -> Result<Held, LockError> {
    let name = lock_name(database);
    let started = tokio::time::Instant::now();
    let mut told: Option<tokio::time::Instant> = None;
    loop {
        let got: Option<Option<i64>> = conn
            .query_first(format!("SELECT GET_LOCK({}, 0)", literal::string(&name)))
            .await
            .map_err(LockError::query("take"))?;
        if got.flatten() == Some(1) {
            return Ok(Held {
                name,
                connection_id: u64::from(conn.id()),
                waited: started.elapsed(),
            });
        }
        let now = tokio::time::Instant::now();
        if now.duration_since(started) >= timeout {
            let holder = holder(conn, &name).await?;
            return Err(LockError::Timeout {
                name,
                holder: holder.unwrap_or_else(|| "a session that has just ended".into()),
                timeout,
            });
        }
        if told.is_none_or(|at| now.duration_since(at) >= TELL_EVERY) {
            if let Some(holder) = holder(conn, &name).await? {
                tracing::info!(%holder, waited = ?now.duration_since(started), "waiting for the migration lock");
                waiting(&holder);
            }
            told = Some(now);
        }
        tokio::time::sleep(POLL).await;
    }
}

impl Held {
    /// Whether the holding session still holds it, asked on `other` (the holder may be
    /// busy running a step): false once that session died or the lock was freed.
    pub(crate) async fn still_held(&self, other: &mut Conn) -> Result<bool, LockError> {
        let owner: Option<Option<u64>> = other
            .query_first(format!(
                "SELECT IS_USED_LOCK({})",
                literal::string(&self.name)
            ))
            .await
            .map_err(LockError::query("check"))?;
        Ok(owner.flatten() == Some(self.connection_id))
    }

    /// Frees the lock on the holding session `conn`.
    pub(crate) async fn release(&self, conn: &mut Conn) -> Result<(), LockError> {
        conn.query_drop(format!("DO RELEASE_LOCK({})", literal::string(&self.name)))
            .await
            .map_err(LockError::query("release"))
    }
}

/// A process list row: user, host, database, command, seconds in it.
type Process = (String, String, Option<String>, Option<String>, i64);

/// Who holds `name`: `connection 42 (app@10.0.0.5:51234, idle 12 s)`, from the process
/// list (which shows every session to a user with PROCESS, and one's own otherwise).
pub(crate) async fn holder(conn: &mut Conn, name: &str) -> Result<Option<String>, LockError> {
    let id: Option<Option<u64>> = conn
        .query_first(format!("SELECT IS_USED_LOCK({})", literal::string(name)))
        .await
        .map_err(LockError::query("ask who holds"))?;
    let Some(id) = id.flatten() else {
        return Ok(None);
    };
    let row: Option<Process> = conn
        .query_first(format!(
            "SELECT USER, HOST, DB, COMMAND, TIME FROM information_schema.PROCESSLIST WHERE ID = {id}"
        ))
        .await
        .map_err(LockError::query("read the process list for"))?;
    Ok(Some(match row {
        Some((user, host, db, command, time)) => {
            let state = match command.as_deref() {
                Some("Sleep") => format!("idle {time} s"),
                Some(command) => format!("{} for {time} s", command.to_ascii_lowercase()),
                None => format!("{time} s"),
            };
            let db = db.map(|d| format!(", database {d}")).unwrap_or_default();
            format!("connection {id} ({user}@{host}{db}, {state})")
        }
        None => format!("connection {id} (not in the process list this account may see)"),
    }))
}

#[cfg(test)]
mod tests {
    use std::process::Stdio;

    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

    use super::*;
    use crate::mysql::option_file::{ChildOptionFile, ClientFlavour};
    use crate::mysql::testing::TestDatabase;

    #[test]
    fn lock_names_fit_the_server_s_limit() {
        assert_eq!(lock_name("shop"), "schemagate:shop");
        let long = lock_name(&"x".repeat(64));
        assert!(
            long.len() <= MAX_NAME && long.starts_with("schemagate:"),
            "{long}"
        );
        assert_ne!(long, lock_name(&"y".repeat(64)));
    }

    #[tokio::test]
    async fn a_second_taker_waits_names_the_holder_and_times_out() {
        let db = TestDatabase::create().await;
        let database = db.options.database.clone();
        let mut holder_conn = db.conn().await;
        let held = acquire(&mut holder_conn, &database, Duration::ZERO, &mut |_| {})
            .await
            .unwrap();
        let mut told = Vec::new();
        let mut waiter = db.conn().await;
        let error = acquire(
            &mut waiter,
            &database,
            Duration::from_millis(600),
            &mut |h| told.push(h.to_owned()),
        )
        .await
        .unwrap_err();
        let expected = format!("connection {} (", held.connection_id);
        assert!(matches!(error, LockError::Timeout { .. }), "{error}");
        assert!(error.to_string().contains(&expected), "{error}");
        assert_eq!(told.len(), 1, "{told:?}");
        assert!(told[0].starts_with(&expected), "{told:?}");
        assert!(held.still_held(&mut waiter).await.unwrap());
        held.release(&mut holder_conn).await.unwrap();
        assert!(!held.still_held(&mut waiter).await.unwrap());
        acquire(&mut waiter, &database, Duration::ZERO, &mut |_| {})
            .await
            .unwrap();
    }

    /// A `mariadb` client that takes the lock and then idles, as a holder that dies would.
    async fn holder_process(db: &TestDatabase) -> tokio::process::Child {
        let file = ChildOptionFile::write(&db.options, ClientFlavour::Mariadb).unwrap();
        let mut child = tokio::process::Command::new("mariadb")
            .arg(file.argument())
            .args(["--batch", "--skip-column-names", "--unbuffered"])
            .arg(&db.options.database)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the mariadb client (package mariadb-client) runs");
        drop(file);
        let name = lock_name(&db.options.database);
        let stdin = child.stdin.as_mut().unwrap();
        stdin
            .write_all(format!("SELECT GET_LOCK('{name}', 0);\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .await
            .unwrap();
        assert_eq!(line.trim(), "1", "the child took the lock");
        child
    }

    #[tokio::test]
    async fn a_holder_killed_with_sigkill_frees_the_lock_within_seconds() {
        let db = TestDatabase::create().await;
        let mut child = holder_process(&db).await;
        let mut conn = db.conn().await;
        let database = db.options.database.clone();
        let waiter = tokio::spawn(async move {
            let mut told = Vec::new();
            let lock = acquire(&mut conn, &database, Duration::from_secs(60), &mut |h| {
                told.push(h.to_owned())
            })
            .await;
            (lock, told)
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(
            !waiter.is_finished(),
            "the waiter waits while the holder lives"
        );
        child.start_kill().unwrap();
        let killed_at = std::time::Instant::now();
        child.wait().await.unwrap();
        let (lock, told) = waiter.await.unwrap();
        lock.unwrap();
        assert!(
            killed_at.elapsed() < Duration::from_secs(5),
            "took {:?} after the SIGKILL",
            killed_at.elapsed()
        );
        assert!(
            told.first().is_some_and(|h| h.starts_with("connection ")),
            "{told:?}"
        );
    }
}
