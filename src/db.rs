//! Connections: URL handling with redaction and connect-with-retry.
//!
//! The password lives in a [`SecretString`] and is only exposed to build a
//! `tokio_postgres::Config` or the `PGPASSWORD` of a child process; everything printed
//! goes through [`DatabaseUrl::redacted`].
//!
//! The gate uses one dedicated connection ([`connect`]); `serve`'s background refresh uses a
//! small [`pool`], so a connection that broke while the database was away is replaced.

use std::str::FromStr;
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::{Client, Config, NoTls};

/// Longest pause between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// TCP keepalive idle time, unless the URL sets `keepalives_idle`: the lock's connection
/// idles through a long backup, and a NAT or load balancer between us and the server drops
/// idle flows after minutes, far sooner than the kernel's 2 h default would notice.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);

/// A PostgreSQL URL (or key=value string) whose password cannot be printed by accident.
#[derive(Clone)]
pub struct DatabaseUrl {
    secret: SecretString,
    redacted: String,
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted)
    }
}

/// Connecting failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL does not parse.
    #[error("the database URL {url} is invalid (use postgres://user:password@host:port/database)")]
    InvalidUrl {
        /// The redacted URL.
        url: String,
        /// The parser's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// No URL was given.
    #[error("no database URL: set --database-url, SCHEMAGATE_DATABASE_URL or DATABASE_URL")]
    Missing,
    /// The server rejected the credentials: retrying cannot help, so this fails at once.
    #[error(
        "authentication failed for user {user:?} at {url}: {error}; check the user name and the password (URL, PGPASSWORD or passfile) and the server's pg_hba.conf"
    )]
    AuthenticationFailed {
        /// The redacted URL.
        url: String,
        /// The user it tried.
        user: String,
        /// The server's error.
        error: String,
    },
    /// The server answered, but refused this database: retrying cannot help, so this fails
    /// at once.
    #[error("database {url} refused the connection: {error}; check the database name")]
    Rejected {
        /// The redacted URL.
        url: String,
        /// The server's error.
        error: String,
    },
    /// The server could not be reached within the connect timeout.
    #[error(
        "database {url} unreachable after {attempts} attempt(s) in {waited:?}: {last_error}; check that it is running and reachable, or raise --connect-timeout"
    )]
    Unreachable {
        /// The redacted URL.
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// How long it tried.
        waited: Duration,
        /// The last attempt's error.
        last_error: String,
    },
    /// The connection pool could not be built.
    #[error("cannot build the connection pool: {source}")]
    Pool {
        /// deadpool's error.
        #[source]
        source: deadpool_postgres::BuildError,
    },
}

impl DatabaseUrl {
    /// Wraps a URL, remembering its redacted form for messages.
    pub fn new(secret: SecretString) -> Self {
        let redacted = redact(secret.expose_secret());
        Self { secret, redacted }
    }

    /// The URL with its password replaced by `***`.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// The parsed connection settings, tagged with `application_name`.
    pub fn config(&self, application_name: &str) -> Result<Config, DbError> {
        let mut config = Config::from_str(self.secret.expose_secret()).map_err(|source| {
            DbError::InvalidUrl {
                url: self.redacted.clone(),
                source,
            }
        })?;
        config.application_name(application_name);
        config.keepalives(true);
        if config.get_keepalives_idle() > KEEPALIVE_IDLE {
            config.keepalives_idle(KEEPALIVE_IDLE);
        }
        if config.get_keepalives_interval().is_none() {
            config.keepalives_interval(Duration::from_secs(10));
        }
        if config.get_keepalives_retries().is_none() {
            config.keepalives_retries(3);
        }
        Ok(config)
    }
}

/// Replaces the password of a URL (in its user info or a `password=` query parameter) or of
/// a key=value connection string, even when the rest does not parse.
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", redact_url_rest(rest)),
        None => redact_pairs(url, ' '),
    }
}

/// Redacts `user:password@host/db?password=…`; the user info ends at the last `@` before
/// the query, so a password holding `/` or `@` is still covered.
fn redact_url_rest(rest: &str) -> String {
    let (head, query) = rest
        .split_once('?')
        .map_or((rest, None), |(h, q)| (h, Some(q)));
    let head = match head.rfind('@') {
        Some(at) => match head[..at].split_once(':') {
            Some((user, _)) => format!("{user}:***{}", &head[at..]),
            None => head.to_owned(),
        },
        None => head.to_owned(),
    };
    match query {
        Some(query) => format!("{head}?{}", redact_pairs(query, '&')),
        None => head,
    }
}

/// Redacts the value of every `password=` pair of a separated list.
fn redact_pairs(text: &str, separator: char) -> String {
    text.split(separator)
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.trim().eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(&separator.to_string())
}

/// Connects, retrying with exponential backoff until `timeout` has passed; the last
/// attempt is made at the deadline itself, so a database that comes up just before it is
/// not missed.
#[tracing::instrument(skip_all, fields(url = url.redacted()))]
pub async fn connect(
    url: &DatabaseUrl,
    application_name: &str,
    timeout: Duration,
) -> Result<Client, DbError> {
    let mut config = url.config(application_name)?;
    let started = Instant::now();
    let mut backoff = Duration::from_millis(50);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let remaining = timeout
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(100));
        config.connect_timeout(remaining);
        let error = match tokio::time::timeout(remaining, config.connect(NoTls)).await {
            Ok(Ok((client, connection))) => {
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(%error, "database connection closed");
                    }
                });
                return Ok(client);
            }
            Ok(Err(error)) => {
                if let Some(permanent) = permanent(&error, url, &config) {
                    return Err(permanent);
                }
                describe(&error)
            }
            Err(_) => "connect timed out".to_owned(),
        };
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(DbError::Unreachable {
                url: url.redacted.clone(),
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
/// database schemagate made): same host, user and settings, `database` instead.
pub async fn connect_to_database(
    url: &DatabaseUrl,
    application_name: &str,
    database: &str,
) -> Result<Client, DbError> {
    let mut config = url.config(application_name)?;
    config.dbname(database);
    let (client, connection) = config.connect(NoTls).await.map_err(|e| DbError::Rejected {
        url: format!("{} (database {database})", url.redacted),
        error: describe(&e),
    })?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "scratch database connection closed");
        }
    });
    Ok(client)
}

/// A pool of at most `max_size` connections, tagged with `application_name` like the gate's.
///
/// Connecting, waiting for a free connection and checking a returned one each give up after
/// `timeout`, so a database that went away makes a refresh fail fast instead of hanging.
/// Connections are recycled with deadpool's `Fast` method (is the socket still open?): the
/// refresh's own query is the liveness check.
pub fn pool(
    url: &DatabaseUrl,
    application_name: &str,
    timeout: Duration,
    max_size: usize,
) -> Result<Pool, DbError> {
    let mut config = url.config(application_name)?;
    config.connect_timeout(timeout);
    let manager = Manager::from_config(
        config,
        NoTls,
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
        .map_err(|source| DbError::Pool { source })
}

/// Authentication failures and a missing database do not go away by retrying.
fn permanent(error: &tokio_postgres::Error, url: &DatabaseUrl, config: &Config) -> Option<DbError> {
    use tokio_postgres::error::SqlState;
    let code = error.code()?;
    if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
    {
        return Some(DbError::AuthenticationFailed {
            url: url.redacted.clone(),
            user: config.get_user().unwrap_or_default().to_owned(),
            error: describe(error),
        });
    }
    (*code == SqlState::INVALID_CATALOG_NAME).then(|| DbError::Rejected {
        url: url.redacted.clone(),
        error: describe(error),
    })
}

/// Whether an error means the session is gone: the socket closed or failed, a connection
/// exception (SQLSTATE class 08), or the server ending the session (57P01 terminated by an
/// administrator or a fast shutdown, 57P02 crash shutdown, 57P03 not accepting connections).
pub fn connection_lost(error: &tokio_postgres::Error) -> bool {
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
/// log; the DDL's own `IF NOT EXISTS` still covers a race. Called under the migration lock.
pub async fn create_table_unless_exists(
    client: &Client,
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
pub fn describe(error: &tokio_postgres::Error) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_in_urls_and_key_value_strings() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/app"),
            "postgres://app:***@db:5432/app"
        );
        assert_eq!(redact("postgres://app@db/app"), "postgres://app@db/app");
        assert_eq!(
            redact("postgres://u:pw@h:notaport/x"),
            "postgres://u:***@h:notaport/x"
        );
        assert_eq!(
            redact("postgresql://u:p/a@ss@h/db?sslmode=disable&password=x"),
            "postgresql://u:***@h/db?sslmode=disable&password=***"
        );
        assert_eq!(
            redact("host=db user=app password=s3cret dbname=app"),
            "host=db user=app password=*** dbname=app"
        );
        let url = DatabaseUrl::new(SecretString::from("postgres://u:hunter2@h/d"));
        assert!(!format!("{url:?}").contains("hunter2"));
    }
}
