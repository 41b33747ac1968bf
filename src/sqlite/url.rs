//! `sqlite:PATH` and `sqlite://PATH` URLs (DESIGN §17), read the way libpq reads its own:
//! one parameter (`mode`, SQLite's own URI word), anything else refused by kind, and no
//! error that repeats the URL's text.
//!
//! `sqlite:app.db` and `sqlite://app.db` name a file relative to the working directory,
//! `sqlite:/var/lib/app.db` and `sqlite:///var/lib/app.db` an absolute one, as sqlx reads
//! them. The path is percent-decoded (`%20` for a space, `%3F` for a `?`).

use std::fmt;
use std::path::PathBuf;

/// How the database file is opened: SQLite's `mode=` words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Mode {
    /// Read and write, creating the file when it is missing (the default, like SQLite's).
    #[default]
    Create,
    /// Read and write an existing file; a missing one is an error.
    Write,
    /// Read only: the gate reads and serves, and refuses any change.
    ReadOnly,
}

impl Mode {
    /// The word of the URL.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Mode::Create => "rwc",
            Mode::Write => "rw",
            Mode::ReadOnly => "ro",
        }
    }
}

/// Where a SQLite database is and how to open it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    /// The database file, as given (relative to the working directory unless absolute).
    pub(crate) path: PathBuf,
    /// How to open it.
    pub(crate) mode: Mode,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sqlite:{}", self.path.display())?;
        match self.mode {
            Mode::Create => Ok(()),
            mode => write!(f, "?mode={}", mode.as_str()),
        }
    }
}

/// A `sqlite:` URL that cannot be used: a usage error (exit 2), before any file is opened.
/// No variant holds text of the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UrlError {
    /// No file after the scheme.
    #[error(
        "the sqlite: URL names no file; write sqlite:PATH (relative to the working directory) or sqlite:///ABSOLUTE/PATH"
    )]
    NoPath,
    /// An in-memory database, which would be gone when the gate exits.
    #[error(
        "an in-memory SQLite database cannot be gated: it is gone when the process exits; name a file (sqlite:app.db)"
    )]
    InMemory,
    /// A host in `sqlite://host/path` form that is not a file name.
    #[error(
        "the sqlite: URL names a host at byte offset {at}; SQLite opens local files only: write sqlite:///ABSOLUTE/PATH or sqlite:RELATIVE/PATH"
    )]
    Host {
        /// Where the host starts.
        at: usize,
    },
    /// A percent escape that is not two hex digits, or a path that is not UTF-8 once decoded.
    #[error(
        "the sqlite: URL does not parse at byte offset {at}: {what}; percent-encode special characters (%20 for a space, %3F for ?)"
    )]
    Syntax {
        /// What is wrong.
        what: &'static str,
        /// Where, in bytes from the start of the URL.
        at: usize,
    },
    /// A parameter other than `mode`.
    #[error(
        "unknown parameter at byte offset {at} of the sqlite: URL; the only one is mode=rwc|rw|ro (see docs/engines.md)"
    )]
    UnknownParameter {
        /// Where its name starts.
        at: usize,
    },
    /// `mode` given twice.
    #[error(
        "the parameter mode is given twice in the sqlite: URL (second at byte offset {at}); give it once"
    )]
    Repeated {
        /// Where the second one starts.
        at: usize,
    },
    /// A `mode` other than SQLite's three words.
    #[error(
        "invalid value for mode at byte offset {at} of the sqlite: URL: expected rwc (read, write, create), rw (read and write an existing file) or ro (read only)"
    )]
    InvalidMode {
        /// Where the value starts.
        at: usize,
    },
}

/// Whether `url` is a SQLite URL (whatever else is wrong with it).
pub(crate) fn is_sqlite(url: &str) -> bool {
    url.get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("sqlite:"))
}

/// Reads a `sqlite:` URL; see the module docs.
pub(crate) fn parse(url: &str) -> Result<Location, UrlError> {
    if !is_sqlite(url) {
        return Err(UrlError::Syntax {
            what: "it does not start with sqlite:",
            at: 0,
        });
    }
    let query = url.find('?');
    let body_end = query.unwrap_or(url.len());
    let path_at = if url[7..body_end].starts_with("//") {
        9
    } else {
        7
    };
    let raw = &url[path_at..body_end];
    // sqlite://app.db is a relative file (sqlx's reading); sqlite://user@host/… or
    // sqlite://host:port/… is a server, which SQLite cannot reach.
    if path_at == 9
        && let Some(slash) = raw.find('/')
        && raw[..slash].contains([':', '@'])
    {
        return Err(UrlError::Host { at: path_at });
    }
    let path = decode(raw, path_at)?;
    if path.is_empty() {
        return Err(UrlError::NoPath);
    }
    if path == ":memory:" || path.starts_with("file::memory:") {
        return Err(UrlError::InMemory);
    }
    let mode = match query {
        Some(q) => parse_query(&url[q + 1..], q + 1)?,
        None => Mode::default(),
    };
    Ok(Location {
        path: PathBuf::from(path),
        mode,
    })
}

/// The `mode` of the query string starting at byte `offset` of the URL.
fn parse_query(query: &str, offset: usize) -> Result<Mode, UrlError> {
    let mut mode = None;
    let mut at = offset;
    for pair in query.split('&') {
        let start = at;
        at += pair.len() + 1;
        if pair.is_empty() {
            continue;
        }
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name != "mode" {
            return Err(UrlError::UnknownParameter { at: start });
        }
        if mode.is_some() {
            return Err(UrlError::Repeated { at: start });
        }
        let value_at = start + name.len() + 1;
        mode = Some(match value {
            "rwc" => Mode::Create,
            "rw" => Mode::Write,
            "ro" => Mode::ReadOnly,
            _ => return Err(UrlError::InvalidMode { at: value_at }),
        });
    }
    Ok(mode.unwrap_or_default())
}

/// Percent-decodes the path starting at byte `offset` of the URL.
fn decode(raw: &str, offset: usize) -> Result<String, UrlError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = raw
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(UrlError::Syntax {
                    what: "a % not followed by two hex digits",
                    at: offset + i,
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| UrlError::Syntax {
        what: "the decoded path is not UTF-8",
        at: offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> (String, Mode) {
        let location = parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        (location.path.display().to_string(), location.mode)
    }

    #[test]
    fn both_forms_name_relative_and_absolute_files_as_sqlx_reads_them() {
        assert_eq!(ok("sqlite:app.db"), ("app.db".into(), Mode::Create));
        assert_eq!(ok("sqlite://app.db"), ("app.db".into(), Mode::Create));
        assert_eq!(
            ok("sqlite:data/app.db"),
            ("data/app.db".into(), Mode::Create)
        );
        assert_eq!(
            ok("sqlite:/var/lib/app.db"),
            ("/var/lib/app.db".into(), Mode::Create)
        );
        assert_eq!(
            ok("sqlite:///var/lib/app.db"),
            ("/var/lib/app.db".into(), Mode::Create)
        );
        assert_eq!(ok("SQLITE:my%20app.db"), ("my app.db".into(), Mode::Create));
    }

    #[test]
    fn mode_takes_sqlites_three_words() {
        assert_eq!(ok("sqlite:a.db?mode=rw").1, Mode::Write);
        assert_eq!(ok("sqlite:a.db?mode=ro").1, Mode::ReadOnly);
        assert_eq!(ok("sqlite:a.db?mode=rwc").1, Mode::Create);
        assert_eq!(
            parse("sqlite:/x/a.db?mode=ro").unwrap().to_string(),
            "sqlite:/x/a.db?mode=ro"
        );
    }

    #[test]
    fn errors_name_their_kind_and_offset_never_the_text() {
        assert_eq!(parse("sqlite:"), Err(UrlError::NoPath));
        assert_eq!(parse("sqlite://"), Err(UrlError::NoPath));
        assert_eq!(parse("sqlite::memory:"), Err(UrlError::InMemory));
        assert_eq!(
            parse("sqlite:a.db?mode=rx"),
            Err(UrlError::InvalidMode { at: 17 })
        );
        assert_eq!(
            parse("sqlite:a.db?mode=ro&password=s3cret"),
            Err(UrlError::UnknownParameter { at: 20 })
        );
        assert_eq!(
            parse("sqlite:a.db?mode=ro&mode=rw"),
            Err(UrlError::Repeated { at: 20 })
        );
        assert_eq!(
            parse("sqlite:a%zz.db"),
            Err(UrlError::Syntax {
                what: "a % not followed by two hex digits",
                at: 8
            })
        );
        assert_eq!(
            parse("sqlite://user@host/a.db"),
            Err(UrlError::Host { at: 9 })
        );
        let message = parse("sqlite:a.db?token=s3cret").unwrap_err().to_string();
        assert!(!message.contains("s3cret"), "{message}");
        assert!(!is_sqlite("postgres://h/db"));
    }
}
