//! Connect-with-retry, the refresh's pool, and what a failure to connect means.
//!
//! Every connection is built from one parsed [`Connection`] (`crate::postgres::connection`), which
//! prints without its password; nothing here formats the text the user gave.
//!
//! The gate uses one dedicated connection ([`connect`]); `serve`'s background refresh uses a
//! small [`pool`], so a connection that broke while the database was away is replaced.
//! What retrying cannot fix (a TLS or certificate failure, rejected credentials, a missing
//! database) fails at once; anything else is retried until `--connect-timeout`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::task::JoinHandle;
use tokio_postgres::Client;

use crate::postgres::PgPool;
use crate::postgres::connection::connect::{Failed, PoolConnect};
use crate::postgres::connection::{Connection, Connector};

/// The tasks driving the sessions [`connect`] and [`connect_to_database`] opened, until they
/// end: a dropped client's task sends PostgreSQL's Terminate message and closes the socket.
static SESSIONS: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());

/// Keeps the task of a session opened, forgetting those that have ended.
fn opened(task: JoinHandle<()>) {
    let mut sessions = SESSIONS.lock().unwrap_or_else(PoisonError::into_inner);
    sessions.retain(|t| !t.is_finished());
    sessions.push(task);
}

/// Waits up to `within` for the sessions this process opened to end, once their clients
/// are dropped. A process that exits before its connection tasks have run again leaves
/// the server to log each session as a lost client ("could not receive data from client:
/// Connection reset by peer") and count it in `pg_stat_database.sessions_abandoned`; the
/// binary calls this before it exits.
pub(crate) async fn sessions_closed(within: Duration) {
    let tasks = std::mem::take(&mut *SESSIONS.lock().unwrap_or_else(PoisonError::into_inner));
    let _ = tokio::time::timeout(within, async {
        for task in tasks {
            let _ = task.await;
        }
    })
    .await;
}

/// Longest pause between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Connecting failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    /// TLS could not be set up or the handshake failed a check: retrying cannot help, so
    /// this fails at once.
    #[error(
        "TLS connection to {url} failed: {check}; this is not retried: fix the server's certificate, sslrootcert or sslmode"
    )]
    Tls {
        /// The connection, printed without its password.
        url: String,
        /// The check that failed.
        check: String,
    },
    /// The server rejected the credentials: retrying cannot help, so this fails at once.
    #[error(
        "authentication failed for user {user:?} at {url}: {error}; {password}; check the user name and the password and the server's pg_hba.conf"
    )]
    AuthenticationFailed {
        /// The connection, printed without its password.
        url: String,
        /// The user it tried.
        user: String,
        /// Where the password came from, as libpq says it: never the password itself.
        password: String,
        /// The server's error.
        error: String,
    },
    /// The server answered, but refused this database: retrying cannot help, so this fails
    /// at once.
    #[error("database {url} refused the connection: {error}; check the database name")]
    Rejected {
        /// The connection, printed without its password.
        url: String,
        /// The server's error.
        error: String,
    },
    /// The server could not be reached within the connect timeout.
    #[error(
        "database {url} unreachable after {attempts} attempt(s) in {waited:?}: {last_error}; check that it is running and reachable, or raise --connect-timeout"
    )]
    Unreachable {
        /// The connection, printed without its password.
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// How long it tried.
        waited: Duration,
        /// The last attempt's error.
        last_error: String,
    },
    /// The connection pool could not be built.
    #[error("cannot build the connection pool")]
    Pool {
        /// deadpool's error.
        #[source]
        source: deadpool_postgres::BuildError,
    },
}

/// The connector of a connection: TLS files are read here, and a problem with them fails
/// at once.
fn connector(connection: &Connection, application_name: &str) -> Result<Connector, DbError> {
    Connector::new(connection, application_name).map_err(|e| DbError::Tls {
        url: connection.to_string(),
        check: e.0,
    })
}

/// Connects, retrying with exponential backoff until `timeout` has passed; the last
/// attempt is made at the deadline itself, so a database that comes up just before it is
/// not missed.
#[tracing::instrument(skip_all, fields(url = %connection))]
pub(crate) async fn connect(
    connection: &Connection,
    application_name: &str,
    timeout: Duration,
) -> Result<Client, DbError> {
    let connector = connector(connection, application_name)?;
    let started = Instant::now();
    let mut backoff = Duration::from_millis(50);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let remaining = timeout
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(100));
        let error = match tokio::time::timeout(remaining, connector.connect(Some(remaining))).await
        {
            Ok(Ok((client, task))) => {
                opened(task);
                return Ok(client);
            }
            Ok(Err(failed)) => {
                if let Some(permanent) = permanent(&failed, connection) {
                    return Err(permanent);
                }
                describe_failed(&failed)
            }
            Err(_) => "connect timed out".to_owned(),
        };
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(DbError::Unreachable {
                url: connection.to_string(),
                attempts,
                waited: started.elapsed(),
                last_error: error,
            });
        }
        let pause = backoff.min(left);
        tracing::warn!(attempt = attempts, %error, retry_in = ?pause, "database not reachable yet");
        tokio::time::sleep(pause).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One connection, without retry, to another database of the same server (a scratch
/// database schemagate made): same hosts, user, TLS and settings, `database` instead.
pub(crate) async fn connect_to_database(
    connection: &Connection,
    application_name: &str,
    database: &str,
) -> Result<Client, DbError> {
    let scratch = connection.with_dbname(database);
    let connector = connector(&scratch, application_name)?;
    match connector.connect(Some(MAX_BACKOFF * 5)).await {
        Ok((client, task)) => {
            opened(task);
            Ok(client)
        }
        Err(failed) => Err(DbError::Rejected {
            url: scratch.to_string(),
            error: describe_failed(&failed),
        }),
    }
}

/// Asks the server to cancel what the session of `token` runs, over the same kind of
/// connection (TLS included) as the session itself.
pub(crate) async fn cancel(
    connection: &Connection,
    application_name: &str,
    token: &tokio_postgres::CancelToken,
) -> Result<(), DbError> {
    let connector = connector(connection, application_name)?;
    token
        .cancel_query(connector.tls())
        .await
        .map_err(|e| DbError::Rejected {
            url: connection.to_string(),
            error: describe(&e),
        })
}

/// A pool of at most `max_size` connections, made like the gate's (same hosts, TLS and
/// fallbacks), tagged with `application_name`.
///
/// Connecting, waiting for a free connection and checking a returned one each give up after
/// `timeout`, so a database that went away makes a refresh fail fast instead of hanging.
/// Connections are recycled with deadpool's `Fast` method (is the socket still open?): the
/// refresh's own query is the liveness check.
pub(crate) fn pool(
    connection: &Connection,
    application_name: &str,
    timeout: Duration,
    max_size: usize,
) -> Result<Arc<dyn crate::engine::Pool>, DbError> {
    let connector = connector(connection, application_name)?;
    let first = &connection.targets()[..1];
    let config = first
        .first()
        .map_or_else(tokio_postgres::Config::new, |target| {
            connector.config(
                target,
                tokio_postgres::config::SslMode::Prefer,
                Some(timeout),
            )
        });
    let manager = Manager::from_connect(
        config,
        PoolConnect { connector, timeout },
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(max_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(timeout))
        .create_timeout(Some(timeout))
        .recycle_timeout(Some(timeout))
        .build()
        .map(|pool| Arc::new(PgPool(pool)) as Arc<dyn crate::engine::Pool>)
        .map_err(|source| DbError::Pool { source })
}

/// What retrying cannot fix, when every host failed that way: a TLS check, then rejected
/// credentials, then a missing database. A host that could not be reached makes the whole
/// attempt worth retrying.
fn permanent(failed: &Failed, connection: &Connection) -> Option<DbError> {
    use tokio_postgres::error::SqlState;
    let url = || connection.to_string();
    let kind = |a: &crate::postgres::connection::connect::Attempt| -> u8 {
        if crate::postgres::connection::tls::failed_check(&a.error, &a.host).is_some() {
            return 3;
        }
        match a.error.code() {
            Some(c)
                if *c == SqlState::INVALID_PASSWORD
                    || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
            {
                2
            }
            Some(c) if *c == SqlState::INVALID_CATALOG_NAME => 1,
            _ => 0,
        }
    };
    if failed.attempts.is_empty() || failed.attempts.iter().any(|a| kind(a) == 0) {
        return None;
    }
    if let Some(check) = failed.tls_failure() {
        return Some(DbError::Tls { url: url(), check });
    }
    let attempt = failed.attempts.iter().max_by_key(|a| kind(a))?;
    Some(if kind(attempt) == 2 {
        DbError::AuthenticationFailed {
            url: url(),
            user: connection.user().to_owned(),
            password: connection.password_source().map_or_else(
                || "no password was given (URL, PGPASSWORD or passfile)".to_owned(),
                |source| format!("the password was taken from {source}"),
            ),
            error: describe_failed(failed),
        }
    } else {
        DbError::Rejected {
            url: url(),
            error: describe_failed(failed),
        }
    })
}

/// Every attempt's error; the host and TLS are named when there were several attempts.
fn describe_failed(failed: &Failed) -> String {
    match failed.attempts.as_slice() {
        [one] => describe(&one.error),
        all => all
            .iter()
            .map(|a| {
                format!(
                    "{} ({}): {}",
                    a.host,
                    if a.tls { "TLS" } else { "without TLS" },
                    describe(&a.error)
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// Whether an error means the session is gone: the socket closed or failed, a connection
/// exception (SQLSTATE class 08), or the server ending the session (57P01 terminated by an
/// administrator or a fast shutdown, 57P02 crash shutdown, 57P03 not accepting connections).
pub(crate) fn connection_lost(error: &tokio_postgres::Error) -> bool {
    if error.is_closed()
        || std::error::Error::source(error).is_some_and(|s| s.is::<std::io::Error>())
    {
        return true;
    }
    error.code().is_some_and(|code| {
        let code = code.code();
        code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
    })
}

/// Creates `table` with `ddl` (a `CREATE TABLE IF NOT EXISTS`) unless it exists. Asking
/// first keeps PostgreSQL's "relation … already exists, skipping" NOTICE out of every run's
/// log; the DDL's own `IF NOT EXISTS` covers a creator that committed in between. Called
/// under the migration lock (a creator still in its transaction makes the DDL fail with a
/// unique violation instead: `fleet::ensure_table`, which runs without it, handles that).
pub(crate) async fn create_table_unless_exists(
    client: &impl tokio_postgres::GenericClient,
    table: &str,
    ddl: &str,
) -> Result<(), tokio_postgres::Error> {
    let exists: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await?
        .get(0);
    if exists {
        return Ok(());
    }
    client.batch_execute(ddl).await
}

/// A PostgreSQL error with its server message, detail and hint when there is one.
pub(crate) fn describe(error: &tokio_postgres::Error) -> String {
    let Some(db) = error.as_db_error() else {
        return std::error::Error::source(error)
            .map_or_else(|| error.to_string(), |s| format!("{error}: {s}"));
    };
    let mut text = format!(
        "{}: {} (SQLSTATE {})",
        db.severity(),
        db.message(),
        db.code().code()
    );
    if let Some(detail) = db.detail() {
        text.push_str(&format!("; detail: {detail}"));
    }
    if let Some(hint) = db.hint() {
        text.push_str(&format!("; hint: {hint}"));
    }
    text
}
