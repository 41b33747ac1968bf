//! Opening a session from [`Options`]: the `ssl-mode` words mapped onto mysql_async's rustls
//! settings, the `PREFERRED` fallback to plain TCP, and retries until the server answers.
//!
//! | `ssl-mode` | TLS | chain checked | host name checked |
//! |---|---|---|---|
//! | `DISABLED` | never | | |
//! | `PREFERRED` | when offered | no | no |
//! | `REQUIRED` | always | no | no |
//! | `VERIFY_CA` | always | yes | no |
//! | `VERIFY_IDENTITY` | always | yes | yes |
//!
//! The roots are `ssl-ca` when given, else the Mozilla roots built into the client. A TLS,
//! certificate, password or unknown-database failure is permanent: it is never retried as
//! "not reachable yet". The connection is always TCP: mysql_async would otherwise move a
//! loopback connection onto the server's Unix socket, where TLS is never used.

use std::time::Duration;

use mysql_async::{Conn, OptsBuilder, SslOpts};
use secrecy::ExposeSecret as _;

use super::options::{Options, SslMode};

/// The pause between two attempts while the server does not answer.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// The session could not be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    /// Nothing answered within the connect timeout (exit 4).
    #[error("{target} did not accept a connection within {timeout:?}: {last}")]
    Unreachable {
        target: String,
        timeout: Duration,
        last: String,
    },
    /// The server answered and refused, or TLS failed: retrying cannot help.
    #[error("cannot connect to {target}: {reason}")]
    Refused { target: String, reason: String },
}

/// A session on `options`' database, retried until `timeout`.
pub(crate) async fn connect(options: &Options, timeout: Duration) -> Result<Conn, ConnectError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let attempt = tokio::time::timeout_at(deadline, connect_once(options)).await;
        let error = match attempt {
            Ok(Ok(conn)) => return Ok(conn),
            Ok(Err(error)) => error,
            Err(_) => "the attempt timed out".to_owned().into(),
        };
        match error {
            Attempt::Permanent(reason) => {
                return Err(ConnectError::Refused {
                    target: options.target(),
                    reason,
                });
            }
            Attempt::Transient(last) if tokio::time::Instant::now() + RETRY_PAUSE >= deadline => {
                return Err(ConnectError::Unreachable {
                    target: options.target(),
                    timeout,
                    last,
                });
            }
            Attempt::Transient(_) => tokio::time::sleep(RETRY_PAUSE).await,
        }
    }
}

/// Why one attempt failed.
enum Attempt {
    Permanent(String),
    Transient(String),
}

impl From<String> for Attempt {
    fn from(reason: String) -> Self {
        Self::Transient(reason)
    }
}

/// One attempt; under `PREFERRED`, a server without TLS is connected to in plain TCP.
///
/// `VERIFY_CA` checks the chain and not the name. mysql_async's switch for that
/// (`skip_domain_validation`) recognises the name error by a text rustls no longer writes,
/// so the wing does it: rustls checks the chain before the name, so a refusal for the name
/// alone means the chain was good, and the attempt is made again expecting a name the
/// certificate presents (chain and name are then both checked).
async fn connect_once(options: &Options) -> Result<Conn, Attempt> {
    match Conn::new(builder(options, ssl_opts(options))).await {
        Err(mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer))
            if options.ssl_mode == SslMode::Preferred =>
        {
            Conn::new(builder(options, None)).await.map_err(classify)
        }
        Err(error) if options.ssl_mode == SslMode::VerifyCa => match presented_name(&error) {
            Some(name) => {
                let ssl =
                    ssl_opts(options).map(|s| s.with_danger_tls_hostname_override(Some(name)));
                Conn::new(builder(options, ssl)).await.map_err(classify)
            }
            None => Err(classify(error)),
        },
        result => result.map_err(classify),
    }
}

/// A DNS name the server's certificate presents, when rustls refused it for its name only.
fn presented_name(error: &mysql_async::Error) -> Option<String> {
    let mysql_async::Error::Io(mysql_async::IoError::Io(io)) = error else {
        return None;
    };
    let rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext {
        presented,
        ..
    }) = io.get_ref()?.downcast_ref::<rustls::Error>()?
    else {
        return None;
    };
    presented.iter().find_map(|name| {
        let dns = name.strip_prefix("DnsName(\"")?.strip_suffix("\")")?;
        Some(match dns.strip_prefix("*.") {
            Some(domain) => format!("schemagate-verify-ca.{domain}"),
            None => dns.to_owned(),
        })
    })
}

/// The protocol's largest packet. Given as the session's `max_allowed_packet` (with a
/// `wait_timeout`, which only mysql_async's own pool reads), it spares the round trip in
/// which the driver would otherwise ask the server for both on every connect: the server
/// still enforces its own limit, refusing a larger statement with its `ERROR 1153`, which
/// names `max_allowed_packet`.
const MAX_PACKET: usize = 1 << 30;

/// Prepared statements a session keeps. mysql_async closes a statement it prepared only
/// when the statement leaves this cache: with none, every parameterised query would leave
/// its statement prepared on the server for the session's life, and a long-lived session
/// (`serve`'s refresh asks every few seconds) would fill the server-wide
/// `max_prepared_stmt_count` (16,382 by default), after which no client of the server
/// could prepare a statement. The wing's queries are a few dozen texts at most.
const STATEMENT_CACHE: usize = 32;

/// The driver's options for a session, with `ssl` as TLS (or none).
fn builder(options: &Options, ssl: Option<SslOpts>) -> OptsBuilder {
    OptsBuilder::default()
        .ip_or_hostname(options.host.clone())
        .tcp_port(options.port)
        .user(Some(options.user.clone()))
        .pass(
            options
                .password
                .as_ref()
                .map(|p| p.expose_secret().to_owned()),
        )
        .db_name(Some(options.database.clone()))
        .prefer_socket(false)
        .stmt_cache_size(STATEMENT_CACHE)
        .max_allowed_packet(Some(MAX_PACKET))
        .wait_timeout(Some(28_800))
        .ssl_opts(ssl)
}

/// The rustls settings of the mode (see the module's table).
fn ssl_opts(options: &Options) -> Option<SslOpts> {
    if options.ssl_mode == SslMode::Disabled {
        return None;
    }
    let mut ssl = SslOpts::default();
    if let Some(ca) = &options.ssl_ca {
        ssl = ssl
            .with_root_certs(vec![ca.clone().into()])
            .with_disable_built_in_roots(true);
    }
    if let Some((cert, key)) = &options.ssl_identity {
        ssl = ssl.with_client_identity(Some(mysql_async::ClientIdentity::new(
            cert.clone().into(),
            key.clone().into(),
        )));
    }
    Some(match options.ssl_mode {
        SslMode::Preferred | SslMode::Required => ssl.with_danger_accept_invalid_certs(true),
        SslMode::VerifyCa | SslMode::VerifyIdentity | SslMode::Disabled => ssl,
    })
}

/// Server errors that no retry mends: access denied (1044, 1045, 1698), unknown database
/// (1049), host not allowed (1130), account locked or expired (3118, 1862, 1820), TLS
/// required by the account (1045 covers it on MariaDB).
const PERMANENT_SERVER_ERRORS: &[u16] = &[1044, 1045, 1049, 1130, 1698, 1820, 1862, 3118];

fn classify(error: mysql_async::Error) -> Attempt {
    let text = super::error::describe(&error);
    match &error {
        mysql_async::Error::Server(server) if PERMANENT_SERVER_ERRORS.contains(&server.code) => {
            Attempt::Permanent(text)
        }
        mysql_async::Error::Io(mysql_async::IoError::Tls(_))
        | mysql_async::Error::Driver(_)
        | mysql_async::Error::Url(_) => Attempt::Permanent(text),
        mysql_async::Error::Io(mysql_async::IoError::Io(io)) if is_tls(io) => {
            Attempt::Permanent(text)
        }
        _ => Attempt::Transient(text),
    }
}

/// Whether an I/O error is rustls refusing the handshake (a certificate check failed).
fn is_tls(error: &std::io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mysql::testing::TestDatabase;
    use crate::mysql::throwaway::{Setup, Throwaway};

    #[tokio::test]
    async fn a_session_opens_on_the_server_and_preferred_falls_back_without_tls() {
        let db = TestDatabase::create().await;
        let mut conn = connect(&db.options, Duration::from_secs(10)).await.unwrap();
        let name: Option<String> =
            mysql_async::prelude::Queryable::query_first(&mut conn, "SELECT DATABASE()")
                .await
                .unwrap();
        assert_eq!(name.as_deref(), Some(db.options.database.as_str()));
        conn.disconnect().await.unwrap();
    }

    #[tokio::test]
    async fn a_query_asked_again_reuses_its_prepared_statement_rather_than_leaving_one_open() {
        use mysql_async::prelude::Queryable as _;
        let db = TestDatabase::create().await;
        let mut conn = connect(&db.options, Duration::from_secs(10)).await.unwrap();
        for n in 0..20 {
            let _: Option<i64> = conn.exec_first("SELECT ? + 1", (n,)).await.unwrap();
        }
        let prepared: Option<(String, String)> = conn
            .query_first("SHOW SESSION STATUS LIKE 'Com_stmt_prepare'")
            .await
            .unwrap();
        assert_eq!(prepared.unwrap().1, "1", "one statement for 20 executions");
    }

    #[tokio::test]
    async fn a_server_without_tls_is_refused_at_once_when_tls_is_required() {
        let db = TestDatabase::create().await;
        let mut options = db.options.clone();
        options.ssl_mode = SslMode::Required;
        let started = std::time::Instant::now();
        let error = connect(&options, Duration::from_secs(30))
            .await
            .unwrap_err();
        assert!(matches!(error, ConnectError::Refused { .. }), "{error}");
        assert!(started.elapsed() < Duration::from_secs(10), "not retried");
    }

    #[tokio::test]
    async fn a_wrong_password_is_refused_at_once_and_never_shown() {
        let db = TestDatabase::create().await;
        let mut options = db.options.clone();
        options.user = "nobody_here".into();
        options.password = Some("s3cret-pw".to_owned().into());
        let error = connect(&options, Duration::from_secs(30))
            .await
            .unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, ConnectError::Refused { .. }), "{text}");
        assert!(!text.contains("s3cret-pw"), "{text}");
    }

    #[tokio::test]
    async fn a_port_with_no_server_is_unreachable_after_the_timeout() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let options = Options::parse_with(
            &format!("mysql://root@127.0.0.1:{port}/x"),
            &Default::default(),
            "me",
        )
        .unwrap();
        let error = connect(&options, Duration::from_secs(1)).await.unwrap_err();
        assert!(matches!(error, ConnectError::Unreachable { .. }), "{error}");
    }

    /// Whether the session runs over TLS (its cipher, when it does).
    async fn cipher(conn: &mut Conn) -> String {
        let row: Option<(String, String)> = mysql_async::prelude::Queryable::query_first(
            conn,
            "SHOW SESSION STATUS LIKE 'Ssl_cipher'",
        )
        .await
        .unwrap();
        row.unwrap().1
    }

    #[tokio::test]
    async fn each_ssl_mode_checks_what_it_says_against_a_server_with_certificates() {
        let server = Throwaway::start(Setup {
            tls: true,
            ..Setup::default()
        })
        .await;
        let ca = server.file("ca.crt").display().to_string();
        let other = server.file("wrong-ca.crt").display().to_string();
        let open = |host: &str, query: String| {
            let options = server.options(host, &query);
            async move { connect(&options, Duration::from_secs(20)).await }
        };
        for (host, query) in [
            (
                "localhost",
                format!("?ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"),
            ),
            ("127.0.0.1", format!("?ssl-mode=VERIFY_CA&ssl-ca={ca}")),
            ("127.0.0.1", format!("?ssl-mode=REQUIRED&ssl-ca={other}")),
            ("127.0.0.1", "?ssl-mode=PREFERRED".to_owned()),
        ] {
            let mut conn = open(host, query.clone())
                .await
                .unwrap_or_else(|e| panic!("{host}{query}: {e}"));
            assert!(
                !cipher(&mut conn).await.is_empty(),
                "{host}{query} runs over TLS"
            );
            conn.disconnect().await.unwrap();
        }
        let mut plain = open("127.0.0.1", "?ssl-mode=DISABLED".to_owned())
            .await
            .unwrap();
        assert_eq!(cipher(&mut plain).await, "");
        for (host, query, says) in [
            (
                "127.0.0.1",
                format!("?ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"),
                "certificate not valid for name \"127.0.0.1\"",
            ),
            (
                "localhost",
                format!("?ssl-mode=VERIFY_CA&ssl-ca={other}"),
                "UnknownIssuer",
            ),
            (
                "localhost",
                "?ssl-mode=VERIFY_IDENTITY".to_owned(),
                "UnknownIssuer",
            ),
        ] {
            let started = std::time::Instant::now();
            let error = open(host, query.clone()).await.unwrap_err();
            assert!(
                matches!(error, ConnectError::Refused { .. }),
                "{host}{query}: {error}"
            );
            assert!(error.to_string().contains(says), "{host}{query}: {error}");
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "a certificate failure is not retried"
            );
        }
    }
}
