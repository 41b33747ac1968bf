//! What can be wrong with a connection before anything is sent to a server.

/// The connection settings cannot be used: a usage error (exit 2), reported before any
/// connection is attempted. No variant holds a password.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// The URL or key=value string does not parse.
    #[error(
        "the connection string does not parse: {reason}; write a URL (postgres://user:password@host:port/database?sslmode=verify-full, special characters percent-encoded) or key=value pairs (host=db user=app password='…')"
    )]
    Syntax {
        /// What is wrong, without the text given.
        reason: String,
    },
    /// A keyword libpq does not know.
    #[error(
        "invalid connection option {keyword:?}: libpq has no such setting (see docs/configuration.md for the ones schemagate reads)"
    )]
    UnknownKeyword {
        /// The keyword.
        keyword: String,
    },
    /// A libpq keyword schemagate does not implement; ignoring it could weaken the
    /// connection, so it is refused.
    #[error("the connection option {keyword:?} is not supported by schemagate: {advice}")]
    Unsupported {
        /// The keyword.
        keyword: String,
        /// What to do instead.
        advice: &'static str,
    },
    /// A value libpq would refuse too.
    #[error(
        "invalid value {value:?} for the connection option {keyword} (from {source_name}): {expected}"
    )]
    InvalidValue {
        /// The keyword.
        keyword: &'static str,
        /// The value (never a password's).
        value: String,
        /// Where it came from: the URL, or an environment variable.
        source_name: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// Hosts, ports and host addresses do not pair up.
    #[error(
        "{what} ({count}) do not match the {hosts} host(s): give one for every host, or a single one for all"
    )]
    Mismatch {
        /// `port numbers` or `host addresses`.
        what: &'static str,
        /// How many were given.
        count: usize,
        /// How many hosts there are.
        hosts: usize,
    },
}

impl ConnectionError {
    /// A syntax error with its reason.
    pub fn syntax(reason: impl Into<String>) -> Self {
        Self::Syntax {
            reason: reason.into(),
        }
    }
}
