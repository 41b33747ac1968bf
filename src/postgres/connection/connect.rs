//! One connection attempt over every host, with libpq's TLS fallbacks: `allow` tries plain
//! then TLS, `prefer` TLS then plain (when the handshake fails or the server refuses the TLS
//! session), as libpq's `PQconnectPoll` does; the other modes make one attempt. Unix sockets
//! never use TLS, as in libpq. Hosts are tried in order until one accepts.
//!
//! Retrying until `--connect-timeout`, and telling a permanent failure from a transient one,
//! is [`crate::postgres::db`]'s job.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use secrecy::ExposeSecret;
use tokio::task::JoinHandle;
use tokio_postgres::config::{SslMode as PgSslMode, TargetSessionAttrs};
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, Config, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::model::{Connection, Host, SessionAttrs, SslMode, Target};
use super::tls::{self, TlsSetupError};

/// TCP keepalive idle time, unless the connection sets `keepalives_idle`: the lock's
/// connection idles through a long backup, and a NAT or load balancer between us and the
/// server drops idle flows after minutes, far sooner than the kernel's 2 h default would
/// notice.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);

/// One failed attempt.
#[derive(Debug)]
pub(crate) struct Attempt {
    /// The host it went to (the name the certificate is checked against).
    pub host: String,
    /// Whether it spoke TLS (asking is not enough: a server without TLS answers a
    /// `prefer` attempt's request with "no", and the attempt goes on in plain text).
    pub tls: bool,
    /// What went wrong.
    pub error: tokio_postgres::Error,
}

/// Every attempt failed.
#[derive(Debug)]
pub(crate) struct Failed {
    /// The attempts, in order.
    pub attempts: Vec<Attempt>,
}

impl Failed {
    /// The last attempt's error (deadpool wants one `tokio_postgres::Error`).
    pub(crate) fn into_last(self) -> Option<tokio_postgres::Error> {
        self.attempts.into_iter().next_back().map(|a| a.error)
    }

    /// The check that failed, when an attempt failed on TLS in a way retrying cannot fix.
    pub(crate) fn tls_failure(&self) -> Option<String> {
        self.attempts
            .iter()
            .find_map(|a| tls::failed_check(&a.error, &a.host))
    }
}

/// Makes connections of one [`Connection`]: its TLS connector is built once.
#[derive(Clone)]
pub(crate) struct Connector {
    connection: Arc<Connection>,
    tls: MakeRustlsConnect,
    application_name: String,
}

impl Connector {
    /// The TLS connector (for a cancel request, which must reach the server as the session
    /// did).
    pub(crate) fn tls(&self) -> MakeRustlsConnect {
        self.tls.clone()
    }

    /// Reads the certificates and keys the connection names; `application_name` is used
    /// unless the connection sets its own.
    pub(crate) fn new(
        connection: &Connection,
        application_name: &str,
    ) -> Result<Self, TlsSetupError> {
        Ok(Self {
            tls: tls::connector(connection.tls())?,
            application_name: connection.application_name(application_name).to_owned(),
            connection: Arc::new(connection.clone()),
        })
    }

    /// The tokio-postgres configuration of one attempt at `target` with `ssl`; `timeout`
    /// bounds each TCP connect unless the connection's `connect_timeout` is shorter.
    pub(crate) fn config(
        &self,
        target: &Target,
        ssl: PgSslMode,
        timeout: Option<Duration>,
    ) -> Config {
        let c = &*self.connection;
        let mut config = Config::new();
        match &target.host {
            Host::Tcp(name) => config.host(name),
            Host::Unix(dir) => config.host_path(dir),
        };
        if let Some(addr) = target.hostaddr {
            config.hostaddr(addr);
        }
        config
            .port(target.port)
            .user(&c.user)
            .dbname(&c.dbname)
            .application_name(&self.application_name)
            .ssl_mode(ssl)
            .keepalives(c.keepalives)
            .keepalives_idle(c.keepalives_idle.unwrap_or(KEEPALIVE_IDLE))
            .keepalives_interval(c.keepalives_interval.unwrap_or(Duration::from_secs(10)))
            .keepalives_retries(c.keepalives_count.unwrap_or(3));
        if let Some(password) = &target.password {
            config.password(password.expose_secret());
        }
        if let Some(options) = &c.options {
            config.options(options);
        }
        if let Some(timeout) = c.tcp_user_timeout {
            config.tcp_user_timeout(timeout);
        }
        if let Some(binding) = c.channel_binding {
            config.channel_binding(binding);
        }
        // libpq's primary/standby are read as read-write/read-only, the checks tokio-postgres
        // makes (`SHOW transaction_read_only`).
        config.target_session_attrs(match c.session_attrs {
            SessionAttrs::ReadWrite | SessionAttrs::Primary => TargetSessionAttrs::ReadWrite,
            SessionAttrs::ReadOnly | SessionAttrs::Standby => TargetSessionAttrs::ReadOnly,
            SessionAttrs::Any | SessionAttrs::PreferStandby => TargetSessionAttrs::Any,
        });
        if let Some(timeout) = match (c.connect_timeout, timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        } {
            config.connect_timeout(timeout);
        }
        config
    }

    /// The attempts libpq makes at one host for the connection's `sslmode`.
    fn modes(&self, target: &Target) -> &'static [PgSslMode] {
        if matches!(target.host, Host::Unix(_)) {
            return &[PgSslMode::Disable];
        }
        match self.connection.tls().mode {
            SslMode::Disable => &[PgSslMode::Disable],
            SslMode::Allow => &[PgSslMode::Disable, PgSslMode::Prefer],
            SslMode::Prefer => &[PgSslMode::Prefer, PgSslMode::Disable],
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => &[PgSslMode::Require],
        }
    }

    /// Tries every host once (with the TLS fallbacks of its `sslmode`), returning the first
    /// session and the task driving it.
    pub(crate) async fn connect(
        &self,
        timeout: Option<Duration>,
    ) -> Result<(Client, JoinHandle<()>), Failed> {
        let mut attempts = Vec::new();
        let prefer_standby = self.connection.session_attrs == SessionAttrs::PreferStandby;
        for pass in 0..if prefer_standby { 2 } else { 1 } {
            for target in &self.connection.targets {
                let modes = self.modes(target);
                for (i, mode) in modes.iter().enumerate() {
                    let mut config = self.config(target, *mode, timeout);
                    if prefer_standby && pass == 0 {
                        config.target_session_attrs(TargetSessionAttrs::ReadOnly);
                    }
                    let spoke_tls = Arc::new(AtomicBool::new(false));
                    let tls = Noting {
                        inner: self.tls.clone(),
                        spoke_tls: Arc::clone(&spoke_tls),
                    };
                    match config.connect(tls).await {
                        Ok((client, connection)) => {
                            let task = tokio::spawn(async move {
                                if let Err(error) = connection.await {
                                    tracing::debug!(%error, "database connection closed");
                                }
                            });
                            return Ok((client, task));
                        }
                        Err(error) => {
                            let tls = spoke_tls.load(Ordering::Relaxed);
                            let fall_back =
                                i + 1 < modes.len() && worth_the_other_mode(*mode, tls, &error);
                            attempts.push(Attempt {
                                host: target.host.name(),
                                tls,
                                error,
                            });
                            if !fall_back {
                                break;
                            }
                        }
                    }
                }
            }
        }
        Err(Failed { attempts })
    }
}

/// Whether an attempt in `mode` that failed with `error` is worth making again in the other
/// mode of `allow` or `prefer`. libpq tries the other mode when the server answered (an
/// error during startup: pg_hba.conf may accept only one of the two) or the handshake
/// failed, not when the host cannot be reached. Two exceptions keep a password from being
/// sent twice: a rejected password is final (docs/guarantees.md: rejected credentials are
/// never retried), and a `prefer` attempt that never spoke TLS (the server has none) was
/// already the plain attempt.
fn worth_the_other_mode(mode: PgSslMode, spoke_tls: bool, error: &tokio_postgres::Error) -> bool {
    if error.code() == Some(&SqlState::INVALID_PASSWORD) {
        return false;
    }
    if mode == PgSslMode::Prefer && !spoke_tls {
        return false;
    }
    error.as_db_error().is_some() || is_tls(error)
}

/// A TLS connector that notes whether a handshake was started: tokio-postgres calls it only
/// when the server agreed to TLS.
struct Noting<T> {
    inner: T,
    spoke_tls: Arc<AtomicBool>,
}

impl<T: MakeTlsConnect<Socket>> MakeTlsConnect<Socket> for Noting<T> {
    type Stream = T::Stream;
    type TlsConnect = Noting<T::TlsConnect>;
    type Error = T::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Self::TlsConnect, Self::Error> {
        Ok(Noting {
            inner: self.inner.make_tls_connect(domain)?,
            spoke_tls: Arc::clone(&self.spoke_tls),
        })
    }
}

impl<T: TlsConnect<Socket>> TlsConnect<Socket> for Noting<T> {
    type Stream = T::Stream;
    type Error = T::Error;
    type Future = T::Future;

    fn connect(self, stream: Socket) -> Self::Future {
        self.spoke_tls.store(true, Ordering::Relaxed);
        self.inner.connect(stream)
    }
}

/// Whether tokio-postgres failed in the TLS handshake (its `Kind::Tls`).
fn is_tls(error: &tokio_postgres::Error) -> bool {
    error
        .to_string()
        .starts_with("error performing TLS handshake")
}

/// deadpool's way of connecting: the same attempts as the gate's.
pub(crate) struct PoolConnect {
    /// The connector.
    pub connector: Connector,
    /// Each TCP connect's timeout.
    pub timeout: Duration,
}

impl deadpool_postgres::Connect for PoolConnect {
    fn connect(
        &self,
        _: &Config,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<(Client, JoinHandle<()>), tokio_postgres::Error>,
                > + Send
                + '_,
        >,
    > {
        Box::pin(async move {
            match self.connector.connect(Some(self.timeout)).await {
                Ok(connected) => Ok(connected),
                Err(failed) => match failed.into_last() {
                    Some(error) => Err(error),
                    // A connection always has a host; were it not so, tokio-postgres's own
                    // "host missing" error is the one to give.
                    None => match Config::new().connect(self.connector.tls.clone()).await {
                        Err(error) => Err(error),
                        Ok((client, connection)) => Ok((
                            client,
                            tokio::spawn(async move {
                                let _ = connection.await;
                            }),
                        )),
                    },
                },
            }
        })
    }
}
