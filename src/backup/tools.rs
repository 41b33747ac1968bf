//! The PostgreSQL client programs a backup runs, and how they connect.
//!
//! The client's major version must **equal** the server's (DESIGN §6): an older `pg_dump`
//! refuses a newer server, and a newer one writes settings (`transaction_timeout` in 17) that
//! an older server rejects on restore. Debian installs each major side by side in
//! `/usr/lib/postgresql/<major>/bin`, so we look there first, then on `PATH`.
//!
//! Connection settings go to the child only through `PG*` environment variables built from
//! the parsed connection; inherited `PG*` variables are removed so they cannot redirect the
//! dump. The password travels in an inherited in-memory passfile (`PGPASSFILE`), never in argv
//! (world-readable `/proc/<pid>/cmdline`) nor `PGPASSWORD` (see `connection::child`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio_postgres::Client;

use super::BackupError;
use crate::postgres::connection::{ChildConnection, Connection};

/// How long `--version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// What the server says about itself.
#[derive(Debug, Clone)]
pub struct Server {
    /// `current_database()`.
    pub database: String,
    /// `server_version_num / 10000`.
    pub major: u32,
    /// `server_version`, e.g. `15.20 (Debian 15.20-0+deb12u1)`.
    pub version: String,
    /// `pg_control_system().system_identifier`: the cluster's identity, which survives
    /// restarts and renames; `None` where the provider hides it.
    pub system_identifier: Option<String>,
}

impl Server {
    /// Asks the server in one round trip (two where the system identifier is hidden).
    pub async fn query(client: &Client) -> Result<Self, BackupError> {
        const QUERY: &str = "SELECT current_database()::text, current_setting('server_version_num')::int4, current_setting('server_version')";
        let identified = client
            .query_one(
                &format!("{QUERY}, (SELECT system_identifier::text FROM pg_control_system())"),
                &[],
            )
            .await;
        let row = match identified {
            Ok(row) => row,
            Err(e)
                if e.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) =>
            {
                client
                    .query_one(&format!("{QUERY}, NULL::text"), &[])
                    .await
                    .map_err(|e| BackupError::query("read the server version", &e))?
            }
            Err(e) => return Err(BackupError::query("read the server version", &e)),
        };
        let num: i32 = row.get(1);
        Ok(Self {
            database: row.get(0),
            major: u32::try_from(num / 10000).unwrap_or(0),
            version: row.get(2),
            system_identifier: row.get(3),
        })
    }

    /// Which database of which server this is, to tell its backups from others'.
    pub fn origin(&self) -> Origin {
        Origin {
            database: self.database.clone(),
            system_identifier: self.system_identifier.clone(),
        }
    }
}

/// A database of a server: what a backup belongs to. One backup directory may hold the
/// backups of several databases (one volume for many services); retention, listing,
/// metrics and restore advice only ever look at the backups of their own database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The database's name.
    pub database: String,
    /// The server's system identifier, when it could be read.
    pub system_identifier: Option<String>,
}

/// A client program of the right major version.
#[derive(Debug, Clone)]
pub struct Tool {
    /// Its path.
    pub path: PathBuf,
    /// What `--version` said, e.g. `pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)`.
    pub version: String,
}

impl Tool {
    /// Finds `program` of PostgreSQL `major`: `given` if any (checked), else
    /// `/usr/lib/postgresql/<major>/bin`, else `PATH` (first one of the right version).
    pub async fn find(
        program: &'static str,
        major: u32,
        given: Option<&Path>,
    ) -> Result<Self, BackupError> {
        let mut candidates: Vec<PathBuf> = match given {
            Some(path) => vec![path.to_owned()],
            None => {
                let mut all = vec![PathBuf::from(format!(
                    "/usr/lib/postgresql/{major}/bin/{program}"
                ))];
                if let Some(path) = std::env::var_os("PATH") {
                    all.extend(std::env::split_paths(&path).map(|dir| dir.join(program)));
                }
                all
            }
        };
        candidates.retain(|p| p.is_file());
        let mut mismatch = None;
        for path in &candidates {
            let version = version_of(path).await?;
            if major_of(&version) == Some(major) {
                return Ok(Self {
                    path: path.clone(),
                    version,
                });
            }
            mismatch.get_or_insert(BackupError::ClientMismatch {
                program: path.clone(),
                found: version,
                major,
            });
        }
        Err(mismatch.unwrap_or_else(|| BackupError::ClientMissing {
            program,
            major,
            looked: match given {
                Some(path) => path.display().to_string(),
                None => format!("/usr/lib/postgresql/{major}/bin and PATH"),
            },
        }))
    }

    /// Finds `program` beside the `--pg-dump` given (so `/opt/pg16/bin/pg_dump` brings its
    /// `pg_restore`), else as [`Tool::find`] does.
    pub async fn beside(
        program: &'static str,
        major: u32,
        pg_dump: Option<&Path>,
    ) -> Result<Self, BackupError> {
        if let Some(beside) = pg_dump.map(|p| p.with_file_name(program))
            && beside.is_file()
        {
            return Self::find(program, major, Some(&beside)).await;
        }
        Self::find(program, major, None).await
    }

    /// Turns an I/O error of spawning or waiting for this tool into a [`BackupError`].
    pub fn failed(&self) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
        |source| BackupError::Spawn {
            program: self.path.clone(),
            source,
        }
    }

    /// A command for this program, killed on drop, its environment cleaned of `PG*`, of
    /// the variables that hold schemagate's own URL (and so its password):
    /// `SCHEMAGATE_DATABASE_URL` and `DATABASE_URL`, and of the placeholders' values.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.path);
        clean_environment(&mut command, "PG");
        command.stdin(Stdio::null()).kill_on_drop(true);
        command
    }
}

/// Removes the inherited variables a child must not see or be steered by: its own client's
/// (`PG…` for pg_dump, `MYSQL…` for mariadb-dump), the database URL, and the placeholder
/// values, which may be secrets.
pub(crate) fn clean_environment(command: &mut Command, client_prefix: &str) {
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if name.starts_with(client_prefix)
            || name == "SCHEMAGATE_DATABASE_URL"
            || name == "DATABASE_URL"
            || name.starts_with(crate::catalogue::PLACEHOLDER_ENV_PREFIX)
        {
            command.env_remove(key);
        }
    }
}

/// `program --version`, trimmed, run in an environment cleaned of `client_prefix`'s
/// variables; a program that does not answer within ten seconds is an error.
pub(crate) async fn program_version(path: &Path, client_prefix: &str) -> std::io::Result<String> {
    let mut command = Command::new(path);
    clean_environment(&mut command, client_prefix);
    let run = command
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(VERSION_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no answer to --version",
            ))
        })?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// pg_dump's or pg_restore's `--version`.
async fn version_of(path: &Path) -> Result<String, BackupError> {
    program_version(path, "PG")
        .await
        .map_err(|source| BackupError::Spawn {
            program: path.to_owned(),
            source,
        })
}

/// The major version in `pg_dump (PostgreSQL) 15.20 (Debian …)` (`9.6.24` → 9).
pub fn major_of(version: &str) -> Option<u32> {
    let rest = version.split("(PostgreSQL)").nth(1)?.trim_start();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Sets the child's `PG*` variables from the connection; the password goes in an
/// in-memory passfile the child inherits: drop the returned guard once the child is
/// spawned, so no later child inherits it too.
pub fn connect_env(
    command: &mut Command,
    connection: &Connection,
    application_name: &str,
) -> Result<ChildConnection, BackupError> {
    let child = connection
        .child(application_name)
        .map_err(|e| BackupError::Query {
            action: "prepare the connection of the child process",
            message: format!("{:#}", anyhow::Error::new(e)),
        })?;
    child.apply(command);
    Ok(child)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_major_version_is_read_from_version_output() {
        assert_eq!(
            major_of("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"),
            Some(15)
        );
        assert_eq!(major_of("pg_restore (PostgreSQL) 9.6.24"), Some(9));
        assert_eq!(major_of("psql (PostgreSQL) 17beta1"), Some(17));
        assert_eq!(major_of("something else 15.2"), None);
    }
}
