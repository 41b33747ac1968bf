//! The MySQL client's option files, both ways: the user's `~/.my.cnf`, read for the
//! `[client]` user and password a URL leaves out, and the option file a dump or restore
//! client is given (`--defaults-extra-file`), which carries the password so that it never
//! appears in the child's argv (world-readable `/proc/<pid>/cmdline`) nor its environment
//! (`MYSQL_PWD`, inherited by everything it starts).
//!
//! A `~/.my.cnf` that group or others may read is not used, with a warning, as libpq
//! ignores such a passfile. The child's file is an anonymous in-memory file (0600) that
//! the child inherits and opens as `/proc/self/fd/N`: no crash can leave it on disk.
//!
//! The syntax is the client's (`mysys/my_default.c`): `[group]`, `name=value`, `#` and `;`
//! comments, `-` and `_` alike in names, a value quoted when its first and last characters
//! are the same quote, and the escapes `\b \t \n \r \\ \s`.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret as _;

use super::options::{Options, SslMode};
use crate::backup::process;

/// What the `[client]` group of the user's option file says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ClientGroup {
    pub user: Option<String>,
    pub password: Option<String>,
}

/// The `[client]` group of `~/.my.cnf`, or nothing when it is missing, unreadable, or
/// readable by group or others (warned).
pub(crate) fn client_group() -> ClientGroup {
    std::env::var_os("HOME")
        .map(|home| read(&Path::new(&home).join(".my.cnf")))
        .unwrap_or_default()
}

/// The `[client]` group of the option file at `path` (see [`client_group`]).
pub(crate) fn read(path: &Path) -> ClientGroup {
    let Ok(metadata) = std::fs::metadata(path) else {
        return ClientGroup::default();
    };
    if !metadata.is_file() {
        tracing::warn!(option_file = %path.display(), "the option file is not a plain file; it is ignored");
        return ClientGroup::default();
    }
    if metadata.permissions().mode() & 0o077 != 0 {
        tracing::warn!(
            option_file = %path.display(),
            "the option file can be read by group or others, so its password is not used: run chmod 600 on it"
        );
        return ClientGroup::default();
    }
    std::fs::read_to_string(path)
        .map(|text| parse_client(&text))
        .unwrap_or_default()
}

/// The `[client]` group of an option file's text (later lines win, as in the client).
pub(crate) fn parse_client(text: &str) -> ClientGroup {
    let mut group = ClientGroup::default();
    let mut in_client = false;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with(['#', ';', '!']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_client = name.trim().eq_ignore_ascii_case("client");
            continue;
        }
        if !in_client {
            continue;
        }
        let (name, value) = line.split_once('=').unwrap_or((line, ""));
        let value = unquote(value.trim());
        match name.trim().replace('_', "-").as_str() {
            "user" => group.user = Some(value),
            "password" => group.password = Some(value),
            _ => {}
        }
    }
    group
}

/// A value without its quotes, escapes resolved; an unquoted value ends at `#`.
fn unquote(value: &str) -> String {
    let quoted = value.len() >= 2
        && (value.starts_with('"') && value.ends_with('"')
            || value.starts_with('\'') && value.ends_with('\''));
    let body = if quoted {
        &value[1..value.len() - 1]
    } else {
        value.split('#').next().unwrap_or_default().trim_end()
    };
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('b') => out.push('\u{8}'),
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('s') => out.push(' '),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// A value quoted for an option file so that [`unquote`] (and the client) read it back.
fn quote(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Which client reads the file: MariaDB's and Oracle's name their TLS options differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientFlavour {
    /// `mariadb-dump`, `mariadb` (and Debian's `mysqldump`, which is MariaDB's).
    Mariadb,
    /// Oracle's `mysqldump` and `mysql`, which know `ssl-mode`.
    Mysql,
}

impl ClientFlavour {
    /// The flavour a client's `--version` line names.
    pub(crate) fn of_version(version: &str) -> Self {
        if version.contains("MariaDB") {
            Self::Mariadb
        } else {
            Self::Mysql
        }
    }
}

/// The child's option file: an inherited in-memory file. Spawn the child, then drop this,
/// so no later child inherits it.
#[derive(Debug)]
pub(crate) struct ChildOptionFile(std::fs::File);

impl ChildOptionFile {
    /// The `[client]` group connecting like `options`, for a client of `flavour`.
    pub(crate) fn write(options: &Options, flavour: ClientFlavour) -> std::io::Result<Self> {
        let mut text = String::from("[client]\n");
        text.push_str(&format!("user={}\n", quote(&options.user)));
        if let Some(password) = &options.password {
            text.push_str(&format!("password={}\n", quote(password.expose_secret())));
        }
        text.push_str(&format!(
            "host={}\nport={}\nprotocol=TCP\n",
            quote(&options.host),
            options.port
        ));
        for line in tls_lines(options, flavour) {
            text.push_str(&line);
            text.push('\n');
        }
        process::secret_file("schemagate-my.cnf", text.as_bytes()).map(Self)
    }

    /// The first argument the client must get: `--defaults-extra-file=/proc/self/fd/N`.
    pub(crate) fn argument(&self) -> String {
        format!("--defaults-extra-file={}", self.path().display())
    }

    /// Where the child (and this process) opens it.
    pub(crate) fn path(&self) -> PathBuf {
        process::inherited_path(&self.0)
    }
}

/// The TLS lines for `flavour`, as strict as the gate's own connection: MariaDB's clients
/// have no CA-only check, so both verifying modes ask them for the host's name too.
fn tls_lines(options: &Options, flavour: ClientFlavour) -> Vec<String> {
    let mut lines = Vec::new();
    match flavour {
        ClientFlavour::Mysql => lines.push(format!("ssl-mode={}", options.ssl_mode.as_str())),
        ClientFlavour::Mariadb => match options.ssl_mode {
            SslMode::Disabled => lines.push("skip-ssl".into()),
            SslMode::Preferred => {}
            SslMode::Required => lines.extend(["ssl".into(), "skip-ssl-verify-server-cert".into()]),
            SslMode::VerifyCa | SslMode::VerifyIdentity => {
                lines.extend(["ssl".into(), "ssl-verify-server-cert".into()]);
            }
        },
    }
    if let Some(ca) = &options.ssl_ca {
        lines.push(format!("ssl-ca={}", quote(&ca.to_string_lossy())));
    }
    if let Some((cert, key)) = &options.ssl_identity {
        lines.push(format!("ssl-cert={}", quote(&cert.to_string_lossy())));
        lines.push(format!("ssl-key={}", quote(&key.to_string_lossy())));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mysql::options::Options;

    #[test]
    fn the_client_group_is_read_with_the_client_s_quoting() {
        let text = "[mysqld]\npassword=server\n[client]\nuser = app # who\n\
                    password=\"a#b\\\\c\\sd\"\n[mysql]\npassword=other\n";
        assert_eq!(
            parse_client(text),
            ClientGroup {
                user: Some("app".into()),
                password: Some("a#b\\c d".into())
            }
        );
    }

    #[test]
    fn a_readable_option_file_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("my.cnf");
        std::fs::write(&path, "[client]\npassword=hunter2\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(read(&path), ClientGroup::default());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read(&path).password.as_deref(), Some("hunter2"));
    }

    #[test]
    fn the_child_s_file_is_private_in_memory_and_reads_back_the_password() {
        let password = "q\"u'o\\te\n#;x";
        let url = format!(
            "mysql://app:{}@db:3307/shop?ssl-mode=VERIFY_CA&ssl-ca=/ca.pem",
            percent_encoding::utf8_percent_encode(password, percent_encoding::NON_ALPHANUMERIC)
        );
        let options = Options::parse_with(&url, &ClientGroup::default(), "me").unwrap();
        let file = ChildOptionFile::write(&options, ClientFlavour::Mariadb).unwrap();
        let path = file.path();
        let metadata = std::fs::metadata(&path).unwrap();
        assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
        assert!(
            std::fs::read_link(&path)
                .unwrap()
                .to_string_lossy()
                .starts_with("/memfd:")
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(parse_client(&text).password.as_deref(), Some(password));
        assert!(text.contains("\nssl-verify-server-cert\n"), "{text}");
        let oracle = ChildOptionFile::write(&options, ClientFlavour::Mysql).unwrap();
        let text = std::fs::read_to_string(oracle.path()).unwrap();
        assert!(text.contains("\nssl-mode=VERIFY_CA\n"), "{text}");
        assert!(
            file.argument()
                .starts_with("--defaults-extra-file=/proc/self/fd/")
        );
    }
}
