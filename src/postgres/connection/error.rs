//! What can be wrong with a connection before anything is sent to a server.
//!
//! A connection string that does not parse is often not a connection string at all (kept
//! quotes, another engine's URL, a password with a raw `@` or `/`), so its text may be the
//! password: no variant holds any of it. A parse error names what is wrong and the byte
//! offset where it is, which is enough to find it in the text the user has.

/// The connection settings cannot be used: a usage error (exit 2), reported before any
/// connection is attempted. No variant holds text from the connection string.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectionError {
    /// The URL or key=value string does not parse.
    #[error(
        "the connection string does not parse at byte offset {at}: {what}; write a URL (postgres://user:password@host:port/database?sslmode=verify-full, special characters percent-encoded) or key=value pairs (host=db user=app password='…')"
    )]
    Syntax {
        /// What is wrong.
        what: &'static str,
        /// Where, in bytes from the start of the string.
        at: usize,
    },
    /// Settings that parse but cannot be used together.
    #[error("the connection settings cannot be used: {what}")]
    Settings {
        /// What is wrong.
        what: &'static str,
    },
    /// A keyword libpq does not know.
    #[error(
        "unknown connection option at byte offset {at} of the connection string: libpq has no such setting (a value holding spaces must be quoted: password='…'; see docs/configuration.md for the settings schemagate reads)"
    )]
    UnknownKeyword {
        /// Where the keyword starts.
        at: usize,
    },
    /// A libpq keyword schemagate does not implement; ignoring it could weaken the
    /// connection, so it is refused.
    #[error("the connection option {keyword:?} is not supported by schemagate: {advice}")]
    Unsupported {
        /// The keyword (one of libpq's).
        keyword: &'static str,
        /// What to do instead.
        advice: &'static str,
    },
    /// A value libpq would refuse too.
    #[error("invalid value for the connection option {keyword} ({place}): {expected}")]
    InvalidValue {
        /// The keyword.
        keyword: &'static str,
        /// Where it came from: the byte offset of the value in the connection string, or an
        /// environment variable.
        place: String,
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
    /// A syntax error: `what` is wrong at byte offset `at`.
    pub(crate) fn syntax(what: &'static str, at: usize) -> Self {
        Self::Syntax { what, at }
    }
}
