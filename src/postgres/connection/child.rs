//! The connection as a child process (`pg_dump`, `pg_restore`, `psql`) gets it: `PG*`
//! variables built from the parsed connection, and the password in a passfile of its own.
//!
//! The password never goes in argv (`/proc/<pid>/cmdline` is world-readable) nor in
//! `PGPASSWORD` (inherited by everything the child starts, and shown by `ps e` to the same
//! user), nor in a file on disk, which a SIGKILLed schemagate could not remove: it is
//! written to an anonymous in-memory file (`memfd_create`, mode 0600) whose descriptor the
//! child inherits, and `PGPASSFILE` names it as `/proc/self/fd/N`. libpq opens that path
//! like any passfile (a regular file, not readable by group or others), and the memory is
//! freed when the last process holding the descriptor ends, however it ends.

use std::ffi::OsString;
use std::path::Path;

use secrecy::ExposeSecret;

use super::model::{Connection, Host, RootCert, SessionAttrs};
use super::passfile::{self, DEFAULT_SOCKET_DIR};
use crate::backup::process;

/// The child's connection: its variables and the passfile descriptor they name.
///
/// The descriptor is inherited by every child spawned while this value lives: spawn the
/// child, then drop it (the child keeps its own copy), so no other child gets it.
#[derive(Debug)]
pub(crate) struct ChildConnection {
    vars: Vec<(&'static str, OsString)>,
    /// Held open, not read: the descriptor `PGPASSFILE` names while this value lives.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "held open for the child, never read")
    )]
    passfile: Option<std::fs::File>,
}

/// The passfile could not be written, or the password cannot be written to one.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ChildError {
    /// Creating or writing the in-memory passfile failed.
    #[error("cannot write the in-memory password file for the child process")]
    Write {
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A passfile line cannot hold a line break.
    #[error(
        "the password contains a line break, which a password file cannot hold; pg_dump and psql cannot be given it: change the password"
    )]
    LineBreak,
}

impl ChildConnection {
    /// Sets the variables on `command`. Inherited `PG*` variables should be removed first
    /// (`backup::tools::Tool::command` does), so none can redirect the child.
    pub(crate) fn apply(&self, command: &mut tokio::process::Command) {
        for (name, value) in &self.vars {
            command.env(name, value);
        }
    }

    /// The variables (the passfile's path, never its content).
    #[cfg(test)]
    pub(crate) fn vars(&self) -> &[(&'static str, OsString)] {
        &self.vars
    }

    /// Where the child finds its passfile (`/proc/self/fd/N`, valid in this process too),
    /// when there is a password.
    #[cfg(test)]
    pub(crate) fn passfile(&self) -> Option<std::path::PathBuf> {
        self.passfile.as_ref().map(process::inherited_path)
    }
}

impl Connection {
    /// The environment of a child process connecting like this connection, tagged with
    /// `application_name` unless the connection sets one.
    pub(crate) fn child(&self, application_name: &str) -> Result<ChildConnection, ChildError> {
        let join = |f: &dyn Fn(&super::model::Target) -> String| {
            self.targets.iter().map(f).collect::<Vec<_>>().join(",")
        };
        let mut vars: Vec<(&'static str, OsString)> = vec![
            ("PGHOST", join(&|t| t.host.name()).into()),
            ("PGPORT", join(&|t| t.port.to_string()).into()),
            ("PGUSER", self.user.clone().into()),
            ("PGDATABASE", self.dbname.clone().into()),
            (
                "PGAPPNAME",
                self.application_name(application_name).to_owned().into(),
            ),
            ("PGSSLMODE", self.tls.mode.as_str().into()),
        ];
        if self.targets.iter().any(|t| t.hostaddr.is_some()) {
            vars.push((
                "PGHOSTADDR",
                join(&|t| t.hostaddr.map(|a| a.to_string()).unwrap_or_default()).into(),
            ));
        }
        if let Some(options) = &self.options {
            vars.push(("PGOPTIONS", options.clone().into()));
        }
        if self.explicit.contains("sslrootcert") {
            match &self.tls.root {
                Some(RootCert::System) => vars.push(("PGSSLROOTCERT", "system".into())),
                Some(RootCert::File(path)) => vars.push(("PGSSLROOTCERT", path.clone().into())),
                None => {}
            }
        }
        for (keyword, name, path) in [
            ("sslcert", "PGSSLCERT", &self.tls.cert),
            ("sslkey", "PGSSLKEY", &self.tls.key),
        ] {
            if let (true, Some(path)) = (self.explicit.contains(keyword), path) {
                vars.push((name, path.clone().into()));
            }
        }
        if self.session_attrs != SessionAttrs::Any {
            vars.push(("PGTARGETSESSIONATTRS", self.session_attrs.as_str().into()));
        }
        let timeout = self.connect_timeout.map_or(30, |t| t.as_secs());
        vars.push(("PGCONNECT_TIMEOUT", timeout.to_string().into()));
        let passfile = self.write_passfile()?;
        if let Some(file) = &passfile {
            vars.push(("PGPASSFILE", process::inherited_path(file).into()));
        }
        Ok(ChildConnection { vars, passfile })
    }

    /// An inheritable in-memory 0600 passfile with this connection's passwords, or `None`
    /// when there is no password.
    fn write_passfile(&self) -> Result<Option<std::fs::File>, ChildError> {
        let passwords: Vec<(&super::model::Target, &str)> = self
            .targets
            .iter()
            .filter_map(|t| t.password.as_ref().map(|p| (t, p.expose_secret())))
            .collect();
        if passwords.is_empty() {
            return Ok(None);
        }
        if passwords.iter().any(|(_, p)| p.contains(['\n', '\r'])) {
            return Err(ChildError::LineBreak);
        }
        let same = passwords.windows(2).all(|w| w[0].1 == w[1].1);
        let mut text = String::new();
        if same && passwords.len() == self.targets.len() {
            text.push_str(&format!("*:*:*:*:{}\n", passfile::escape(passwords[0].1)));
        } else {
            for (target, password) in &passwords {
                let host = match &target.host {
                    Host::Unix(dir) if dir == Path::new(DEFAULT_SOCKET_DIR) => {
                        "localhost".to_owned()
                    }
                    host => host.name(),
                };
                text.push_str(&format!(
                    "{}:{}:*:*:{}\n",
                    passfile::escape(&host),
                    target.port,
                    passfile::escape(password)
                ));
            }
        }
        let written = process::secret_file("schemagate-pgpass", text.as_bytes());
        written
            .map(Some)
            .map_err(|source| ChildError::Write { source })
    }

    /// Every password of the connection, to scrub from text a child wrote.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for target in &self.targets {
            if let Some(password) = target.password.as_ref().map(|p| p.expose_secret())
                && !password.is_empty()
            {
                text = text.replace(password, "***");
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::super::env::Environment;
    use super::*;

    #[test]
    fn the_password_goes_to_an_in_memory_passfile_that_no_drop_needs_to_remove() {
        let env = Environment::empty().os_user("me");
        let connection = Connection::parse_in(
            "postgres://app:p%3Aa%5Cs%20s@db/app?sslmode=verify-full&sslrootcert=/ca.pem",
            &env,
        )
        .unwrap();
        let child = connection.child("schemagate/test").unwrap();
        let vars: Vec<(String, String)> = child
            .vars()
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_string_lossy().into_owned()))
            .collect();
        assert!(
            vars.iter()
                .all(|(k, v)| k != "PGPASSWORD" && !v.contains("p:a")),
            "{vars:?}"
        );
        assert!(vars.contains(&("PGSSLMODE".into(), "verify-full".into())));
        assert!(vars.contains(&("PGSSLROOTCERT".into(), "/ca.pem".into())));
        let path = child.passfile().unwrap();
        assert!(path.starts_with("/proc/self/fd"), "{path:?}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "*:*:*:*:p\\:a\\\\s s\n"
        );
        let metadata = std::fs::metadata(&path).unwrap();
        assert!(metadata.is_file(), "libpq wants a regular file");
        assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
        assert!(
            std::fs::read_link(&path)
                .unwrap()
                .to_string_lossy()
                .starts_with("/memfd:"),
            "not a file on disk"
        );
        assert_eq!(
            passfile::lookup(
                &path,
                passfile::Wanted {
                    host: "db",
                    port: "5432",
                    dbname: "app",
                    user: "app"
                }
            )
            .as_deref(),
            Some("p:a\\s s")
        );
        drop(child);
        let none = Connection::parse_in("postgres://app@db/app", &env)
            .unwrap()
            .child("x")
            .unwrap();
        assert!(none.passfile().is_none());
    }
}
