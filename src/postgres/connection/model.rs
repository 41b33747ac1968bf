//! The parsed connection: what was given, filled from the environment and libpq's defaults
//! in libpq's order (connection string, then `PG*` variables, then defaults; the password
//! from the string, then `PGPASSWORD`, then the passfile).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use super::ConnectionError;
use super::conninfo::{self, Given};
use super::env::{self, Environment};
use super::passfile::{self, DEFAULT_SOCKET_DIR};

/// libpq's default port.
pub(crate) const DEFAULT_PORT: u16 = 5432;

/// Where one host of the connection is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Host {
    /// A host name or IP address, reached over TCP.
    Tcp(String),
    /// The directory of a Unix socket.
    Unix(PathBuf),
}

impl Host {
    /// The name libpq matches against the passfile and shows: the host, or the directory.
    pub(crate) fn name(&self) -> String {
        match self {
            Host::Tcp(name) => name.clone(),
            Host::Unix(dir) => dir.display().to_string(),
        }
    }
}

/// One host of the connection, with its port, address and password.
#[derive(Clone)]
pub(crate) struct Target {
    /// The host.
    pub host: Host,
    /// `hostaddr`: the address to connect to instead of resolving the host name (which is
    /// still the name the certificate is checked against).
    pub hostaddr: Option<IpAddr>,
    /// The port.
    pub port: u16,
    /// The password for this host: given, from `PGPASSWORD`, or from the passfile.
    pub(crate) password: Option<SecretString>,
}

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SslMode {
    /// Never TLS.
    Disable,
    /// Plain first; TLS when the server refuses the plain connection.
    Allow,
    /// TLS first; plain when TLS fails or the server refuses the TLS connection (libpq's
    /// default).
    Prefer,
    /// TLS only; the certificate is checked like `verify-ca` when a root certificate is
    /// given (`sslrootcert`, or `~/.postgresql/root.crt` exists).
    Require,
    /// TLS, with a certificate chain to a trusted root; the host name is not checked.
    VerifyCa,
    /// TLS, with a trusted chain and a certificate for the host name.
    VerifyFull,
}

impl SslMode {
    /// libpq's name of the mode.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    /// Whether the mode demands a verified certificate.
    pub(crate) fn verifies(self) -> bool {
        self >= SslMode::VerifyCa
    }
}

/// Where trusted root certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RootCert {
    /// A PEM file.
    File(PathBuf),
    /// The platform's trusted roots (`sslrootcert=system`).
    System,
}

/// libpq's `target_session_attrs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionAttrs {
    /// Any server.
    Any,
    /// A server that accepts writes (not a standby, `transaction_read_only` off).
    ReadWrite,
    /// A server that refuses writes.
    ReadOnly,
    /// A server not in recovery.
    Primary,
    /// A server in recovery.
    Standby,
    /// A standby if there is one, else any.
    PreferStandby,
}

impl SessionAttrs {
    /// libpq's name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SessionAttrs::Any => "any",
            SessionAttrs::ReadWrite => "read-write",
            SessionAttrs::ReadOnly => "read-only",
            SessionAttrs::Primary => "primary",
            SessionAttrs::Standby => "standby",
            SessionAttrs::PreferStandby => "prefer-standby",
        }
    }
}

/// The TLS settings.
#[derive(Debug, Clone)]
pub(crate) struct TlsSettings {
    /// `sslmode`.
    pub mode: SslMode,
    /// `sslrootcert` when given, else `~/.postgresql/root.crt` (which may not exist).
    pub root: Option<RootCert>,
    /// `sslcert` when given, else `~/.postgresql/postgresql.crt` (which may not exist).
    pub cert: Option<PathBuf>,
    /// `sslkey` when given, else `~/.postgresql/postgresql.key`.
    pub key: Option<PathBuf>,
    /// `sslsni`: send the host name in the handshake (default on).
    pub sni: bool,
    /// `ssl_min_protocol_version` is `TLSv1.3` (rustls speaks 1.2 and 1.3 only).
    pub tls13_only: bool,
    /// `ssl_max_protocol_version` is `TLSv1.2`.
    pub tls12_only: bool,
}

/// A connection to PostgreSQL, parsed and resolved the way libpq resolves it; the one
/// thing every connection of schemagate and of its child processes is built from.
///
/// It prints (`Display` and `Debug`) as a URL rebuilt from its parts with the password left
/// out, so no spelling of a password can reach a log line.
#[derive(Clone)]
pub(crate) struct Connection {
    pub(crate) targets: Vec<Target>,
    pub(crate) user: String,
    pub(crate) dbname: String,
    pub(crate) options: Option<String>,
    pub(crate) application_name: Option<String>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) keepalives: bool,
    pub(crate) keepalives_idle: Option<Duration>,
    pub(crate) keepalives_interval: Option<Duration>,
    pub(crate) keepalives_count: Option<u32>,
    pub(crate) tcp_user_timeout: Option<Duration>,
    pub(crate) channel_binding: Option<tokio_postgres::config::ChannelBinding>,
    pub(crate) session_attrs: SessionAttrs,
    pub(crate) tls: TlsSettings,
    /// The keywords set by the string or the environment, not defaulted.
    pub(crate) explicit: BTreeSet<&'static str>,
    /// Where a password came from, for messages: "the connection string", "PGPASSWORD" or
    /// the passfile's path.
    pub(crate) password_source: Option<String>,
}

/// A keyword's value and where it came from.
struct Found<'a> {
    value: &'a str,
    /// The byte offset of the value in the connection string, or the variable it came from.
    place: Place,
}

/// Where a value came from, as a message names it (never showing the value).
#[derive(Clone, Copy)]
enum Place {
    /// The connection string, at this byte offset.
    Text(usize),
    /// An environment variable.
    Variable(&'static str),
}

impl Place {
    /// What gave the value: the connection string, or the variable.
    fn source(self) -> &'static str {
        match self {
            Place::Text(_) => "the connection string",
            Place::Variable(name) => name,
        }
    }
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Text(at) => write!(f, "at byte offset {at} of the connection string"),
            Place::Variable(name) => write!(f, "from {name}"),
        }
    }
}

/// Reads values: the string first, then the variable.
struct Lookup<'a> {
    given: &'a Given,
    env: &'a Environment,
    explicit: BTreeSet<&'static str>,
}

impl<'a> Lookup<'a> {
    fn get(&mut self, keyword: &'static str) -> Option<Found<'a>> {
        let found = if let Some(value) = self.given.get(keyword) {
            Some(Found {
                value,
                place: Place::Text(self.given.position(keyword).unwrap_or_default()),
            })
        } else {
            env::variable_of(keyword).and_then(|name| {
                self.env.get(name).map(|value| Found {
                    value,
                    place: Place::Variable(name),
                })
            })
        };
        if found.is_some() {
            self.explicit.insert(keyword);
        }
        found
    }
}

fn invalid(keyword: &'static str, found: &Found<'_>, expected: &'static str) -> ConnectionError {
    ConnectionError::InvalidValue {
        keyword,
        place: found.place.to_string(),
        expected,
    }
}

/// libpq keywords schemagate refuses when given, with what to do instead.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "service",
        "pg_service.conf is not read; put the settings in the URL",
    ),
    (
        "sslpassword",
        "encrypted client keys are not read; give a key file without a passphrase (mode 0600)",
    ),
    (
        "sslcrl",
        "certificate revocation lists are not checked; remove it, or connect with psql",
    ),
    (
        "sslcrldir",
        "certificate revocation lists are not checked; remove it, or connect with psql",
    ),
    ("requirepeer", "peer credentials are not checked; remove it"),
    (
        "require_auth",
        "authentication methods are not restricted; use channel_binding=require or sslmode=verify-full",
    ),
    ("replication", "replication connections are not made"),
    ("krbsrvname", "Kerberos/GSSAPI is not implemented"),
    ("gsslib", "Kerberos/GSSAPI is not implemented"),
    ("gssdelegation", "Kerberos/GSSAPI is not implemented"),
    (
        "sslcertmode",
        "client certificates are sent when sslcert/sslkey (or ~/.postgresql/postgresql.crt) exist; remove it",
    ),
];

impl Connection {
    /// Parses a URL or key=value string in this process's environment.
    pub(crate) fn parse(text: &str) -> Result<Self, ConnectionError> {
        Self::parse_in(text, &Environment::from_process())
    }

    /// Parses a URL or key=value string in the given environment.
    pub(crate) fn parse_in(text: &str, env: &Environment) -> Result<Self, ConnectionError> {
        let given = conninfo::parse(text)?;
        for keyword in given.keywords() {
            if let Some(&(keyword, advice)) = UNSUPPORTED.iter().find(|(k, _)| *k == keyword) {
                return Err(ConnectionError::Unsupported { keyword, advice });
            }
        }
        check_accepted(&given)?;
        let mut look = Lookup {
            given: &given,
            env,
            explicit: BTreeSet::new(),
        };

        let hosts: Vec<Host> = match look.get("host") {
            Some(found) => found.value.split(',').map(host_of).collect(),
            None => vec![host_of("")],
        };
        let ports = ports(look.get("port"), hosts.len())?;
        let hostaddrs = hostaddrs(look.get("hostaddr"), hosts.len())?;
        let user = match look.get("user") {
            Some(found) => found.value.to_owned(),
            None => env
                .user()
                .map(str::to_owned)
                .ok_or(ConnectionError::Settings {
                    what: "no user name: give one in the URL (postgres://user@…) or PGUSER",
                })?,
        };
        let dbname = look
            .get("dbname")
            .map_or_else(|| user.clone(), |f| f.value.to_owned());

        let home = env.home_dir().map(|h| h.join(".postgresql"));
        let tls = tls_settings(&mut look, home.as_deref())?;
        let session_attrs = match look.get("target_session_attrs") {
            None => SessionAttrs::Any,
            Some(found) => match found.value {
                "any" => SessionAttrs::Any,
                "read-write" => SessionAttrs::ReadWrite,
                "read-only" => SessionAttrs::ReadOnly,
                "primary" => SessionAttrs::Primary,
                "standby" => SessionAttrs::Standby,
                "prefer-standby" => SessionAttrs::PreferStandby,
                _ => {
                    return Err(invalid(
                        "target_session_attrs",
                        &found,
                        "any, read-write, read-only, primary, standby or prefer-standby",
                    ));
                }
            },
        };
        let channel_binding = match look.get("channel_binding") {
            None => None,
            Some(found) => Some(match found.value {
                "disable" => tokio_postgres::config::ChannelBinding::Disable,
                "prefer" => tokio_postgres::config::ChannelBinding::Prefer,
                "require" => tokio_postgres::config::ChannelBinding::Require,
                _ => {
                    return Err(invalid(
                        "channel_binding",
                        &found,
                        "disable, prefer or require",
                    ));
                }
            }),
        };
        let connect_timeout = match look.get("connect_timeout") {
            None => None,
            Some(found) => {
                let seconds: i64 =
                    found.value.trim().parse().map_err(|_| {
                        invalid("connect_timeout", &found, "a whole number of seconds")
                    })?;
                // libpq: 0 or less waits forever, and 1 is taken as 2.
                u64::try_from(seconds)
                    .ok()
                    .filter(|s| *s > 0)
                    .map(|s| Duration::from_secs(s.max(2)))
            }
        };
        let keepalives = match look.get("keepalives") {
            None => true,
            Some(found) => int(&found, "keepalives")? != 0,
        };
        let keepalives_idle = seconds(look.get("keepalives_idle"), "keepalives_idle")?;
        let keepalives_interval = seconds(look.get("keepalives_interval"), "keepalives_interval")?;
        let keepalives_count = match look.get("keepalives_count") {
            None => None,
            Some(found) => Some(
                u32::try_from(int(&found, "keepalives_count")?)
                    .map_err(|_| invalid("keepalives_count", &found, "a whole number"))?,
            ),
        };
        let tcp_user_timeout = match look.get("tcp_user_timeout") {
            None => None,
            Some(found) => {
                let ms = u64::try_from(int(&found, "tcp_user_timeout")?)
                    .map_err(|_| invalid("tcp_user_timeout", &found, "milliseconds"))?;
                (ms > 0).then(|| Duration::from_millis(ms))
            }
        };
        let options = look.get("options").map(|f| f.value.to_owned());
        let application_name = look.get("application_name").map(|f| f.value.to_owned());

        // The password: given, else PGPASSWORD, else the passfile, per host.
        let given_password = look
            .get("password")
            .map(|f| (f.value.to_owned(), f.place.source()));
        let passfile_path = look
            .get("passfile")
            .map(|f| PathBuf::from(f.value))
            .or_else(|| env.home_dir().map(|h| h.join(".pgpass")));
        let mut password_source = None;
        let mut targets = Vec::with_capacity(hosts.len());
        for (i, host) in hosts.into_iter().enumerate() {
            let port = ports[i];
            let password = match &given_password {
                Some((password, source)) => {
                    password_source = Some((*source).to_owned());
                    Some(password.clone())
                }
                None => passfile_path.as_ref().and_then(|path| {
                    let found = passfile::lookup(
                        path,
                        passfile::Wanted {
                            host: &host.name(),
                            port: &port.to_string(),
                            dbname: &dbname,
                            user: &user,
                        },
                    );
                    if found.is_some() {
                        password_source = Some(path.display().to_string());
                    }
                    found
                }),
            };
            targets.push(Target {
                host,
                hostaddr: hostaddrs[i],
                port,
                password: password.map(SecretString::from),
            });
        }
        Ok(Self {
            targets,
            user,
            dbname,
            options,
            application_name,
            connect_timeout,
            keepalives,
            keepalives_idle,
            keepalives_interval,
            keepalives_count,
            tcp_user_timeout,
            channel_binding,
            session_attrs,
            tls,
            explicit: look.explicit,
            password_source,
        })
    }

    /// The user name.
    pub(crate) fn user(&self) -> &str {
        &self.user
    }

    /// The database name.
    #[cfg(test)]
    pub(crate) fn dbname(&self) -> &str {
        &self.dbname
    }

    /// The same connection to another database of the same server.
    pub(crate) fn with_dbname(&self, dbname: &str) -> Self {
        let mut other = self.clone();
        other.dbname = dbname.to_owned();
        other
    }

    /// The hosts, in the order they are tried.
    pub(crate) fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// The TLS settings.
    pub(crate) fn tls(&self) -> &TlsSettings {
        &self.tls
    }

    /// `application_name` when given, else `fallback` (libpq's
    /// `fallback_application_name`).
    pub(crate) fn application_name<'a>(&'a self, fallback: &'a str) -> &'a str {
        self.application_name.as_deref().unwrap_or(fallback)
    }

    /// Where the password came from, when there is one (never the password).
    pub(crate) fn password_source(&self) -> Option<&str> {
        self.password_source.as_deref()
    }

    /// Whether any host has a password.
    pub(crate) fn has_password(&self) -> bool {
        self.targets.iter().any(|t| t.password.is_some())
    }
}

/// Keywords libpq knows that schemagate takes only with some values.
fn check_accepted(given: &Given) -> Result<(), ConnectionError> {
    let checks: [(&'static str, &[&str], &'static str); 6] = [
        (
            "gssencmode",
            &["disable", "prefer"],
            "GSSAPI encryption is not implemented: use disable or prefer (TLS still applies)",
        ),
        (
            "load_balance_hosts",
            &["disable"],
            "hosts are tried in the order given: use disable",
        ),
        (
            "sslnegotiation",
            &["postgres"],
            "only PostgreSQL's SSLRequest negotiation is implemented: use postgres",
        ),
        (
            "client_encoding",
            &["UTF8", "utf8", "auto"],
            "connections always use UTF8",
        ),
        (
            "ssl_min_protocol_version",
            &["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"],
            "TLSv1.2 or TLSv1.3",
        ),
        (
            "ssl_max_protocol_version",
            &["TLSv1.2", "TLSv1.3"],
            "TLSv1.2 or TLSv1.3 (rustls speaks no older version)",
        ),
    ];
    for (keyword, accepted, expected) in checks {
        if let Some(value) = given.get(keyword)
            && !accepted.contains(&value)
            && !value.is_empty()
        {
            let at = given.position(keyword).unwrap_or_default();
            return Err(ConnectionError::InvalidValue {
                keyword,
                place: Place::Text(at).to_string(),
                expected,
            });
        }
    }
    Ok(())
}

/// A host entry: a path (or nothing: the default socket directory) is a Unix socket.
fn host_of(text: &str) -> Host {
    if text.is_empty() {
        Host::Unix(PathBuf::from(DEFAULT_SOCKET_DIR))
    } else if text.starts_with('/') {
        Host::Unix(PathBuf::from(text))
    } else {
        Host::Tcp(text.to_owned())
    }
}

/// One port per host (a single one applies to all; an empty one is 5432).
fn ports(found: Option<Found<'_>>, hosts: usize) -> Result<Vec<u16>, ConnectionError> {
    let Some(found) = found else {
        return Ok(vec![DEFAULT_PORT; hosts]);
    };
    let ports = found
        .value
        .split(',')
        .map(|p| match p.trim() {
            "" => Ok(DEFAULT_PORT),
            p => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| invalid("port", &found, "a port number from 1 to 65535")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    spread(ports, hosts, "port numbers")
}

/// One `hostaddr` per host, or none.
fn hostaddrs(
    found: Option<Found<'_>>,
    hosts: usize,
) -> Result<Vec<Option<IpAddr>>, ConnectionError> {
    let Some(found) = found else {
        return Ok(vec![None; hosts]);
    };
    let addrs = found
        .value
        .split(',')
        .map(|a| match a.trim() {
            "" => Ok(None),
            a => a
                .parse::<IpAddr>()
                .map(Some)
                .map_err(|_| invalid("hostaddr", &found, "numeric IP addresses")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    spread(addrs, hosts, "host addresses")
}

fn spread<T: Clone>(
    values: Vec<T>,
    hosts: usize,
    what: &'static str,
) -> Result<Vec<T>, ConnectionError> {
    match values.len() {
        1 => Ok(vec![values[0].clone(); hosts]),
        n if n == hosts => Ok(values),
        count => Err(ConnectionError::Mismatch { what, count, hosts }),
    }
}

fn int(found: &Found<'_>, keyword: &'static str) -> Result<i64, ConnectionError> {
    found
        .value
        .trim()
        .parse()
        .map_err(|_| invalid(keyword, found, "a whole number"))
}

fn seconds(
    found: Option<Found<'_>>,
    keyword: &'static str,
) -> Result<Option<Duration>, ConnectionError> {
    let Some(found) = found else {
        return Ok(None);
    };
    let value = u64::try_from(int(&found, keyword)?)
        .map_err(|_| invalid(keyword, &found, "a whole number of seconds"))?;
    Ok((value > 0).then(|| Duration::from_secs(value)))
}

/// `sslmode`, `sslrootcert`, `sslcert`, `sslkey`, `sslsni`, and libpq's defaults under
/// `~/.postgresql` (`dir`).
fn tls_settings(
    look: &mut Lookup<'_>,
    dir: Option<&std::path::Path>,
) -> Result<TlsSettings, ConnectionError> {
    let root = look.get("sslrootcert").map(|f| match f.value {
        "system" => RootCert::System,
        path => RootCert::File(PathBuf::from(path)),
    });
    let mode = match look.get("sslmode") {
        Some(found) => {
            let mode = SslMode::parse(found.value).ok_or_else(|| {
                invalid(
                    "sslmode",
                    &found,
                    "disable, allow, prefer, require, verify-ca or verify-full",
                )
            })?;
            // libpq 16+: the platform's roots are only trusted with the host name checked.
            if root == Some(RootCert::System) && mode != SslMode::VerifyFull {
                return Err(invalid(
                    "sslmode",
                    &found,
                    "verify-full: sslrootcert=system is only allowed with sslmode=verify-full (as in libpq)",
                ));
            }
            mode
        }
        None if root == Some(RootCert::System) => SslMode::VerifyFull,
        None => SslMode::Prefer,
    };
    let root = root.or_else(|| dir.map(|d| RootCert::File(d.join("root.crt"))));
    let cert = look
        .get("sslcert")
        .map(|f| PathBuf::from(f.value))
        .or_else(|| dir.map(|d| d.join("postgresql.crt")));
    let key = look
        .get("sslkey")
        .map(|f| PathBuf::from(f.value))
        .or_else(|| dir.map(|d| d.join("postgresql.key")));
    let sni = look.given.get("sslsni").is_none_or(|v| v != "0");
    let tls13_only = look.given.get("ssl_min_protocol_version") == Some("TLSv1.3");
    let tls12_only = look.given.get("ssl_max_protocol_version") == Some("TLSv1.2");
    if tls12_only && tls13_only {
        return Err(ConnectionError::Settings {
            what: "ssl_min_protocol_version TLSv1.3 is above ssl_max_protocol_version TLSv1.2",
        });
    }
    Ok(TlsSettings {
        mode,
        root,
        cert,
        key,
        sni,
        tls13_only,
        tls12_only,
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use secrecy::ExposeSecret;

    use super::*;

    fn parse(text: &str, env: &Environment) -> Connection {
        Connection::parse_in(text, env).unwrap()
    }

    #[test]
    fn gaps_are_filled_from_pg_variables_then_libpq_defaults() {
        let env = Environment::empty()
            .os_user("osuser")
            .var("PGHOST", "envhost")
            .var("PGPORT", "6543")
            .var("PGSSLMODE", "require")
            .var("PGCONNECT_TIMEOUT", "1");
        let c = parse("dbname=app", &env);
        assert_eq!(c.targets()[0].host, Host::Tcp("envhost".into()));
        assert_eq!(c.targets()[0].port, 6543);
        assert_eq!((c.user(), c.dbname()), ("osuser", "app"));
        assert_eq!(c.tls().mode, SslMode::Require);
        assert_eq!(
            c.connect_timeout,
            Some(Duration::from_secs(2)),
            "libpq takes 1 as 2"
        );
        let c = parse("postgres://h/", &Environment::empty().os_user("me"));
        assert_eq!((c.user(), c.dbname()), ("me", "me"));
        assert_eq!(c.tls().mode, SslMode::Prefer);
        let c = parse("", &Environment::empty().os_user("me"));
        assert_eq!(c.targets()[0].host, Host::Unix(DEFAULT_SOCKET_DIR.into()));
    }

    #[test]
    fn the_password_comes_from_the_string_then_pgpassword_then_the_passfile() {
        let dir = tempfile::tempdir().unwrap();
        let pgpass = dir.path().join("pgpass");
        std::fs::write(&pgpass, "h2:5432:app:u:from-file\n").unwrap();
        std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
        let env = Environment::empty().var("PGPASSFILE", pgpass.to_str().unwrap());
        let c = parse("postgres://u@h1,h2/app", &env);
        assert!(c.targets()[0].password.is_none());
        assert_eq!(
            c.targets()[1].password.as_ref().unwrap().expose_secret(),
            "from-file"
        );
        assert_eq!(c.password_source(), pgpass.to_str());
        let c = parse(
            "postgres://u@h2/app",
            &env.clone().var("PGPASSWORD", "from-env"),
        );
        assert_eq!(
            c.targets()[0].password.as_ref().unwrap().expose_secret(),
            "from-env"
        );
        let c = parse("postgres://u:given@h2/app", &env);
        assert_eq!(
            c.targets()[0].password.as_ref().unwrap().expose_secret(),
            "given"
        );
    }

    #[test]
    fn tls_settings_follow_libpq() {
        let home = Environment::empty().os_user("me").home("/home/me");
        let c = parse("host=h", &home);
        assert_eq!(
            c.tls().root,
            Some(RootCert::File("/home/me/.postgresql/root.crt".into()))
        );
        assert_eq!(
            c.tls().cert,
            Some("/home/me/.postgresql/postgresql.crt".into())
        );
        let c = parse("host=h sslrootcert=system", &home);
        assert_eq!(
            (c.tls().mode, c.tls().root.clone()),
            (SslMode::VerifyFull, Some(RootCert::System))
        );
        let refused = Connection::parse_in("host=h sslrootcert=system sslmode=require", &home);
        assert!(
            refused
                .err()
                .unwrap()
                .to_string()
                .contains("only allowed with sslmode=verify-full")
        );
        let refused = Connection::parse_in("host=h sslmode=verify", &home);
        assert!(
            refused
                .err()
                .unwrap()
                .to_string()
                .contains("verify-ca or verify-full")
        );
    }

    #[test]
    fn hosts_ports_and_unsupported_options_are_checked() {
        let env = Environment::empty().os_user("me");
        let c = parse("host=a,b,c port=5433", &env);
        assert!(c.targets().iter().all(|t| t.port == 5433));
        let error = Connection::parse_in("host=a,b,c port=1,2", &env)
            .err()
            .unwrap();
        assert!(
            error
                .to_string()
                .contains("port numbers (2) do not match the 3 host(s)"),
            "{error}"
        );
        let error = Connection::parse_in("host=a service=x", &env)
            .err()
            .unwrap();
        assert!(error.to_string().contains("pg_service.conf"), "{error}");
        let error = Connection::parse_in("host=a port=0", &env).err().unwrap();
        assert!(error.to_string().contains("1 to 65535"), "{error}");
    }
}
