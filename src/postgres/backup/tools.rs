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

use tokio::process::Command;
use tokio_postgres::Client;

use crate::backup::process::{clean_environment, program_version};
use crate::backup::tools::Tool;
use crate::backup::{BackupError, Server};
use crate::postgres::connection::{ChildConnection, Connection};

/// What the server says about itself.
pub(crate) async fn server(client: &Client) -> Result<Server, BackupError> {
    const QUERY: &str = "SELECT current_database()::text, current_setting('server_version_num')::int4, current_setting('server_version')";
    let identified = client
        .query_one(
            &format!("{QUERY}, (SELECT system_identifier::text FROM pg_control_system())"),
            &[],
        )
        .await;
    let row = match identified {
        Ok(row) => row,
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) => {
            client
                .query_one(&format!("{QUERY}, NULL::text"), &[])
                .await
                .map_err(|e| BackupError::query("read the server version", &e))?
        }
        Err(e) => return Err(BackupError::query("read the server version", &e)),
    };
    let num: i32 = row.get(1);
    Ok(Server {
        database: row.get(0),
        major: u32::try_from(num / 10000).unwrap_or(0),
        version: row.get(2),
        system_identifier: row.get(3),
    })
}

/// Finds `program` of PostgreSQL `major`: `given` if any (checked), else
/// `/usr/lib/postgresql/<major>/bin`, else `PATH` (first one of the right version).
pub(crate) async fn find(
    program: &'static str,
    major: u32,
    given: Option<&Path>,
) -> Result<Tool, BackupError> {
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
            return Ok(Tool {
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
/// `pg_restore`), else as [`find`] does.
pub(crate) async fn beside(
    program: &'static str,
    major: u32,
    pg_dump: Option<&Path>,
) -> Result<Tool, BackupError> {
    if let Some(beside) = pg_dump.map(|p| p.with_file_name(program))
        && beside.is_file()
    {
        return find(program, major, Some(&beside)).await;
    }
    find(program, major, None).await
}

/// A command for this program, killed on drop, its environment cleaned of `PG*`, of
/// the variables that hold schemagate's own URL (and so its password):
/// `SCHEMAGATE_DATABASE_URL` and `DATABASE_URL`, and of the placeholders' values.
pub(crate) fn command(tool: &Tool) -> Command {
    let mut command = Command::new(&tool.path);
    clean_environment(&mut command, "PG");
    command.stdin(Stdio::null()).kill_on_drop(true);
    command
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
pub(crate) fn major_of(version: &str) -> Option<u32> {
    let rest = version.split("(PostgreSQL)").nth(1)?.trim_start();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Sets the child's `PG*` variables from the connection; the password goes in an
/// in-memory passfile the child inherits: drop the returned guard once the child is
/// spawned, so no later child inherits it too.
pub(crate) fn connect_env(
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
