//! A `mysql://` or `mariadb://` URL, parsed once into the options every connection of the
//! wing is built from: the gate's, the lock's, and those of the dump and restore clients.
//!
//! `mysql://user:password@host:port/database?ssl-mode=VERIFY_IDENTITY&ssl-ca=/ca.pem`, with
//! the MySQL client's words for TLS (`--ssl-mode`, `--ssl-ca`, `--ssl-cert`, `--ssl-key`;
//! `_` may stand for `-`). Parts not given: port 3306, the user from the option file's
//! `[client]` group, else the login name; the password from the option file (see
//! [`super::option_file`]). As `mysql` does, a root certificate given without a mode means
//! `VERIFY_CA`, and `PREFERRED` is the default.
//!
//! Printing rebuilds the URL from these parts with the password left out, never from the
//! text given, so no spelling of a password can reach a log or an error.

use std::fmt;
use std::path::PathBuf;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use secrecy::SecretString;

use super::option_file::{self, ClientGroup};

/// The MySQL client's `--ssl-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// Never TLS.
    Disabled,
    /// TLS when the server offers it, unverified; plain otherwise.
    Preferred,
    /// TLS or no connection; the certificate is not checked.
    Required,
    /// TLS with a certificate chained to the root given (or the system's roots).
    VerifyCa,
    /// As `VerifyCa`, and the certificate names the host connected to.
    VerifyIdentity,
}

impl SslMode {
    fn parse(word: &str) -> Option<Self> {
        Some(match word.to_ascii_uppercase().as_str() {
            "DISABLED" => Self::Disabled,
            "PREFERRED" => Self::Preferred,
            "REQUIRED" => Self::Required,
            "VERIFY_CA" => Self::VerifyCa,
            "VERIFY_IDENTITY" => Self::VerifyIdentity,
            _ => return None,
        })
    }

    /// The client's word for it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Disabled => "DISABLED",
            Self::Preferred => "PREFERRED",
            Self::Required => "REQUIRED",
            Self::VerifyCa => "VERIFY_CA",
            Self::VerifyIdentity => "VERIFY_IDENTITY",
        }
    }
}

/// Which spelling the URL used; both reach the same wing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// `mysql://`.
    Mysql,
    /// `mariadb://`.
    Mariadb,
}

/// Everything a connection is made from.
#[derive(Clone)]
pub(crate) struct Options {
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<SecretString>,
    pub database: String,
    pub ssl_mode: SslMode,
    /// `ssl-ca`: a PEM file of roots; without it, the system's roots.
    pub ssl_ca: Option<PathBuf>,
    /// `ssl-cert` and `ssl-key`: the client's certificate and key.
    pub ssl_identity: Option<(PathBuf, PathBuf)>,
}

/// The URL cannot be used; the message names the part and never holds the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MySQL URL: {0}")]
pub(crate) struct UrlError(String);

impl Options {
    /// Parses `url`, taking what it leaves out from the option file and the login name.
    pub(crate) fn parse(url: &str) -> Result<Self, UrlError> {
        Self::parse_with(url, &option_file::client_group(), &login_name())
    }

    /// As [`Options::parse`], with the option file's `[client]` group and the login name
    /// given (tests).
    pub(crate) fn parse_with(
        url: &str,
        client: &ClientGroup,
        login: &str,
    ) -> Result<Self, UrlError> {
        let (scheme, rest) = if let Some(rest) = url.strip_prefix("mysql://") {
            (Scheme::Mysql, rest)
        } else if let Some(rest) = url.strip_prefix("mariadb://") {
            (Scheme::Mariadb, rest)
        } else {
            return Err(UrlError("it must start with mysql:// or mariadb://".into()));
        };
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            Some(info) => match info.split_once(':') {
                Some((user, password)) => {
                    (decode(user, "user")?, Some(decode(password, "password")?))
                }
                None => (decode(info, "user")?, None),
            },
            None => (String::new(), None),
        };
        let (host, port) = host_port(hostport)?;
        let database = decode(path, "database")?;
        if database.is_empty() {
            return Err(UrlError(
                "it names no database: add /DATABASE after the host".into(),
            ));
        }
        let mut options = Self {
            scheme,
            host,
            port,
            user: if user.is_empty() {
                client.user.clone().unwrap_or_else(|| login.to_owned())
            } else {
                user
            },
            password: password
                .or_else(|| client.password.clone())
                .map(SecretString::from),
            database,
            ssl_mode: SslMode::Preferred,
            ssl_ca: None,
            ssl_identity: None,
        };
        options.apply_query(query)?;
        Ok(options)
    }

    /// Reads `ssl-mode`, `ssl-ca`, `ssl-cert` and `ssl-key`; any other key is refused.
    fn apply_query(&mut self, query: &str) -> Result<(), UrlError> {
        let (mut mode, mut cert, mut key) = (None, None, None);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key_text, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode(value, key_text)?;
            match key_text.replace('_', "-").to_ascii_lowercase().as_str() {
                "ssl-mode" => {
                    mode = Some(SslMode::parse(&value).ok_or_else(|| {
                        UrlError(format!(
                            "ssl-mode={value} is not one of DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY"
                        ))
                    })?);
                }
                "ssl-ca" => self.ssl_ca = Some(PathBuf::from(value)),
                "ssl-cert" => cert = Some(PathBuf::from(value)),
                "ssl-key" => key = Some(PathBuf::from(value)),
                other => {
                    return Err(UrlError(format!(
                        "unknown parameter {other:?}: the known ones are ssl-mode, ssl-ca, ssl-cert and ssl-key"
                    )));
                }
            }
        }
        self.ssl_mode = mode.unwrap_or(if self.ssl_ca.is_some() {
            SslMode::VerifyCa
        } else {
            SslMode::Preferred
        });
        self.ssl_identity = match (cert, key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => {
                return Err(UrlError(
                    "ssl-cert and ssl-key go together: give both".into(),
                ));
            }
        };
        if self.ssl_mode == SslMode::Disabled
            && (self.ssl_ca.is_some() || self.ssl_identity.is_some())
        {
            return Err(UrlError(
                "ssl-mode=DISABLED with certificates given: drop the certificates or choose a mode that uses TLS".into(),
            ));
        }
        Ok(())
    }

    /// `host:port/database`, for messages.
    pub(crate) fn target(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{host}:{}/{}", self.port, self.database)
    }

    /// The same options for another database on the same server (scratch databases).
    pub(crate) fn with_database(&self, database: &str) -> Self {
        Self {
            database: database.to_owned(),
            ..self.clone()
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Everything but RFC 3986's unreserved characters is percent-encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl fmt::Display for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Mysql => "mysql",
            Scheme::Mariadb => "mariadb",
        };
        write!(
            f,
            "{scheme}://{}",
            utf8_percent_encode(&self.user, COMPONENT)
        )?;
        if self.password.is_some() {
            f.write_str(":***")?;
        }
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            utf8_percent_encode(&self.host, COMPONENT).to_string()
        };
        write!(
            f,
            "@{host}:{}/{}?ssl-mode={}",
            self.port,
            utf8_percent_encode(&self.database, COMPONENT),
            self.ssl_mode.as_str()
        )?;
        if let Some(ca) = &self.ssl_ca {
            write!(
                f,
                "&ssl-ca={}",
                utf8_percent_encode(&ca.to_string_lossy(), COMPONENT)
            )?;
        }
        if let Some((cert, key)) = &self.ssl_identity {
            write!(
                f,
                "&ssl-cert={}&ssl-key={}",
                utf8_percent_encode(&cert.to_string_lossy(), COMPONENT),
                utf8_percent_encode(&key.to_string_lossy(), COMPONENT)
            )?;
        }
        Ok(())
    }
}

/// Host and port of `host`, `host:port` or `[v6]:port`; the host defaults to localhost.
fn host_port(text: &str) -> Result<(String, u16), UrlError> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| UrlError("an IPv6 host opened with [ is not closed with ]".into()))?;
        (host.to_owned(), after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (decode(host, "host")?, Some(port)),
            None => (decode(text, "host")?, None),
        }
    };
    let port = match port {
        Some(port) => port
            .parse()
            .map_err(|_| UrlError(format!("port {port:?} is not a number from 1 to 65535")))?,
        None => 3306,
    };
    let host = if host.is_empty() {
        "localhost".to_owned()
    } else {
        host
    };
    Ok((host, port))
}

/// Percent-decodes one part, naming it (never its text, which may be a password) when it
/// is not UTF-8.
fn decode(text: &str, part: &str) -> Result<String, UrlError> {
    percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| UrlError(format!("the {part} is not UTF-8 once percent-decoded")))
}

/// The login name, the MySQL client's default user.
fn login_name() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "root".to_owned())
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;

    fn parse(url: &str) -> Result<Options, UrlError> {
        Options::parse_with(url, &ClientGroup::default(), "me")
    }

    #[test]
    fn a_url_gives_every_part_and_prints_without_its_password() {
        let secret = "p@ss:w/o?rd#%";
        let encoded = utf8_percent_encode(secret, COMPONENT).to_string();
        let url = format!(
            "mariadb://app:{encoded}@db.example:3307/shop?ssl-mode=verify_identity&ssl_ca=/ca.pem"
        );
        let options = parse(&url).unwrap();
        assert_eq!(options.scheme, Scheme::Mariadb);
        assert_eq!((options.host.as_str(), options.port), ("db.example", 3307));
        assert_eq!(
            (options.user.as_str(), options.database.as_str()),
            ("app", "shop")
        );
        assert_eq!(options.password.as_ref().unwrap().expose_secret(), secret);
        assert_eq!(options.ssl_mode, SslMode::VerifyIdentity);
        let shown = options.to_string();
        assert_eq!(
            shown,
            "mariadb://app:***@db.example:3307/shop?ssl-mode=VERIFY_IDENTITY&ssl-ca=%2Fca.pem"
        );
        assert!(!format!("{options:?}").contains("ss:w"));
    }

    #[test]
    fn defaults_follow_the_mysql_client() {
        let options = parse("mysql://[::1]/app").unwrap();
        assert_eq!((options.host.as_str(), options.port), ("::1", 3306));
        assert_eq!(options.user, "me");
        assert!(options.password.is_none());
        assert_eq!(options.ssl_mode, SslMode::Preferred);
        assert_eq!(options.target(), "[::1]:3306/app");
        let with_ca = parse("mysql://h/app?ssl-ca=/ca.pem").unwrap();
        assert_eq!(
            with_ca.ssl_mode,
            SslMode::VerifyCa,
            "a root given means VERIFY_CA"
        );
    }

    #[test]
    fn the_option_file_gives_the_user_and_password_the_url_leaves_out() {
        let client = ClientGroup {
            user: Some("filed".into()),
            password: Some("from-file".into()),
        };
        let options = Options::parse_with("mysql://h/app", &client, "me").unwrap();
        assert_eq!(options.user, "filed");
        assert_eq!(options.password.unwrap().expose_secret(), "from-file");
        let given = Options::parse_with("mysql://u:p@h/app", &client, "me").unwrap();
        assert_eq!(
            (given.user.as_str(), given.password.unwrap().expose_secret()),
            ("u", "p")
        );
    }

    #[test]
    fn bad_urls_are_refused_naming_the_part_and_never_the_password() {
        for (url, says) in [
            ("postgres://h/app", "mysql://"),
            ("mysql://h", "no database"),
            ("mysql://h:99999/app", "port"),
            ("mysql://h/app?ssl-mode=sometimes", "ssl-mode=sometimes"),
            ("mysql://h/app?sslmode=require", "unknown parameter"),
            ("mysql://h/app?ssl-cert=/c.pem", "go together"),
            ("mysql://u:%FF%FEsecret@h/app", "password is not UTF-8"),
        ] {
            let error = parse(url).unwrap_err().to_string();
            assert!(error.contains(says), "{url}: {error}");
            assert!(!error.contains("secret"), "{error}");
        }
    }
}
