//! The password file (`~/.pgpass`, or `passfile` / `PGPASSFILE`), read as libpq's
//! `passwordFromFile` reads it: lines `hostname:port:database:username:password`, `#`
//! comments, `*` matching anything in the first four fields, `\` escaping `:` and `\`, and a
//! host that is the default Unix socket directory matching `localhost`. A file that group or
//! others may read is ignored with a warning, as libpq ignores it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The Unix socket directory libpq uses when no host is given (Debian's build).
pub(crate) const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

/// What the passfile is asked for: one host of the connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wanted<'a> {
    /// The host name, or the Unix socket directory.
    pub host: &'a str,
    /// The port, as text.
    pub port: &'a str,
    /// The database name.
    pub dbname: &'a str,
    /// The user name.
    pub user: &'a str,
}

/// The password of the first matching line of the file at `path`; `None` when the file is
/// missing, unreadable, not a plain file, readable by group or others (with a warning), or
/// has no matching line.
pub(crate) fn lookup(path: &Path, wanted: Wanted<'_>) -> Option<String> {
    let metadata = std::fs::metadata(path).ok()?;
    if !metadata.is_file() {
        tracing::warn!(passfile = %path.display(), "the password file is not a plain file; it is ignored");
        return None;
    }
    if metadata.permissions().mode() & 0o077 != 0 {
        tracing::warn!(
            passfile = %path.display(),
            "the password file has group or world access; it is ignored, as libpq ignores it: run chmod 0600 on it"
        );
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    find(&text, wanted)
}

/// The password of the first line of `text` that matches.
pub(crate) fn find(text: &str, wanted: Wanted<'_>) -> Option<String> {
    let host = if wanted.host.is_empty() || wanted.host == DEFAULT_SOCKET_DIR {
        "localhost"
    } else {
        wanted.host
    };
    let expected = [host, wanted.port, wanted.dbname, wanted.user];
    text.lines()
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .find_map(|line| {
            let fields = fields(line);
            if fields.len() < 5 {
                return None;
            }
            let matches = fields[..4]
                .iter()
                .zip(expected)
                .all(|(field, want)| field.wildcard || field.text == want);
            let password = &fields[4].text;
            (matches && !password.is_empty()).then(|| password.clone())
        })
}

/// One field of a passfile line.
struct Field {
    /// The field, unescaped.
    text: String,
    /// Whether it is an unescaped `*`.
    wildcard: bool,
}

/// The fields of a line, split at unescaped `:`: the password ends at the first one too,
/// as libpq reads it.
fn fields(line: &str) -> Vec<Field> {
    let mut fields = Vec::new();
    let mut text = String::new();
    let mut raw = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                raw.push(c);
                if let Some(next) = chars.next() {
                    text.push(next);
                    raw.push(next);
                }
            }
            ':' => {
                fields.push(Field {
                    wildcard: raw == "*",
                    text: std::mem::take(&mut text),
                });
                raw.clear();
            }
            c => {
                text.push(c);
                raw.push(c);
            }
        }
    }
    fields.push(Field {
        wildcard: raw == "*",
        text,
    });
    fields
}

/// Escapes a value for a passfile line, as libpq reads it back.
pub(crate) fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace(':', "\\:")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted<'a>(host: &'a str, port: &'a str) -> Wanted<'a> {
        Wanted {
            host,
            port,
            dbname: "app",
            user: "alice",
        }
    }

    #[test]
    fn the_first_matching_line_wins_with_wildcards_and_escapes() {
        let file = "# comment\n\
                    other:5432:app:alice:nope\n\
                    db.example:5432:app:alice:pa\\:ss\\\\word\n\
                    *:*:*:alice:fallback\n";
        assert_eq!(
            find(file, wanted("db.example", "5432")).as_deref(),
            Some("pa:ss\\word")
        );
        assert_eq!(
            find(file, wanted("db.example", "5433")).as_deref(),
            Some("fallback")
        );
        assert_eq!(
            find(
                file,
                Wanted {
                    user: "bob",
                    ..wanted("x", "1")
                }
            ),
            None
        );
    }

    #[test]
    fn the_default_socket_matches_localhost_and_the_password_ends_at_a_colon() {
        let file = "localhost:5432:*:*:a:b:c\n";
        assert_eq!(find(file, wanted("", "5432")).as_deref(), Some("a"));
        assert_eq!(
            find(file, wanted(DEFAULT_SOCKET_DIR, "5432")).as_deref(),
            Some("a")
        );
        assert_eq!(find("\\*:*:*:*:x\n", wanted("h", "1")), None);
        assert_eq!(
            find("\\*:*:*:*:x\n", wanted("*", "1")).as_deref(),
            Some("x")
        );
        assert_eq!(find(file, wanted("/tmp", "5432")), None);
        assert_eq!(find("short:line\n", wanted("short", "line")), None);
    }

    #[test]
    fn escaping_round_trips() {
        let password = r"p:a\s s'#";
        let line = format!("*:*:*:*:{}", escape(password));
        assert_eq!(find(&line, wanted("h", "1")).as_deref(), Some(password));
    }

    #[test]
    fn a_file_others_can_read_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(&path, "*:*:*:*:secret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(lookup(&path, wanted("h", "1")), None);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(lookup(&path, wanted("h", "1")).as_deref(), Some("secret"));
        assert_eq!(lookup(&dir.path().join("missing"), wanted("h", "1")), None);
    }
}
