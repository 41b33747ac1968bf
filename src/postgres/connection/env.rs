//! Where libpq looks for what a connection string leaves out: the `PG*` environment
//! variables, the user's home directory (`~/.pgpass`, `~/.postgresql/`) and the operating
//! system user (the default user and database name).
//!
//! An [`Environment`] is a value, not a read of the process's environment at each use, so
//! tests build their own and a connection is resolved once.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// The libpq keyword each variable stands for, as in libpq's `PQconninfoOptions`.
pub(crate) const VARIABLES: &[(&str, &str)] = &[
    ("host", "PGHOST"),
    ("hostaddr", "PGHOSTADDR"),
    ("port", "PGPORT"),
    ("dbname", "PGDATABASE"),
    ("user", "PGUSER"),
    ("password", "PGPASSWORD"),
    ("passfile", "PGPASSFILE"),
    ("connect_timeout", "PGCONNECT_TIMEOUT"),
    ("options", "PGOPTIONS"),
    ("application_name", "PGAPPNAME"),
    ("sslmode", "PGSSLMODE"),
    ("sslrootcert", "PGSSLROOTCERT"),
    ("sslcert", "PGSSLCERT"),
    ("sslkey", "PGSSLKEY"),
    ("channel_binding", "PGCHANNELBINDING"),
    ("target_session_attrs", "PGTARGETSESSIONATTRS"),
];

/// The variable libpq reads for `keyword`, if any.
pub(crate) fn variable_of(keyword: &str) -> Option<&'static str> {
    VARIABLES
        .iter()
        .find(|(k, _)| *k == keyword)
        .map(|(_, v)| *v)
}

/// The environment a connection is resolved in.
#[derive(Debug, Clone, Default)]
pub(crate) struct Environment {
    vars: HashMap<String, String>,
    home: Option<PathBuf>,
    os_user: Option<String>,
}

impl Environment {
    /// This process's: its `PG*` variables, `HOME` (else the home directory in
    /// `/etc/passwd`), and the user it runs as.
    pub(crate) fn from_process() -> Self {
        let vars = VARIABLES
            .iter()
            .filter_map(|(_, name)| Some(((*name).to_owned(), std::env::var(name).ok()?)))
            .collect();
        let account = account();
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .or_else(|| account.as_ref().map(|(_, home)| home.clone()));
        let os_user = account
            .map(|(name, _)| name)
            .or_else(|| std::env::var("USER").ok());
        Self {
            vars,
            home,
            os_user,
        }
    }

    /// An environment with no variables, no home directory and no user: for tests.
    #[cfg(test)]
    pub(crate) fn empty() -> Self {
        Self::default()
    }

    /// The same, with `name` set to `value`.
    #[cfg(test)]
    pub(crate) fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }

    /// The same, with this home directory.
    #[cfg(test)]
    pub(crate) fn home(mut self, home: impl Into<PathBuf>) -> Self {
        self.home = Some(home.into());
        self
    }

    /// The same, with this operating system user.
    #[cfg(test)]
    pub(crate) fn os_user(mut self, user: &str) -> Self {
        self.os_user = Some(user.to_owned());
        self
    }

    /// The value of a variable, when set and not empty (libpq treats an empty one as unset).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The home directory, if known.
    pub(crate) fn home_dir(&self) -> Option<&std::path::Path> {
        self.home.as_deref()
    }

    /// The operating system user name, if known.
    pub(crate) fn user(&self) -> Option<&str> {
        self.os_user.as_deref()
    }
}

/// The name and home directory of the effective user, from `/etc/passwd` (the owner of
/// `/proc/self` is the effective user, so no `unsafe` call to `geteuid` is needed).
fn account() -> Option<(String, PathBuf)> {
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 6 && fields[2].parse() == Ok(uid))
            .then(|| (fields[0].to_owned(), PathBuf::from(fields[5])))
    })
}
