//! The client programs a backup runs: the dump client of the server's flavour
//! (`mariadb-dump` for MariaDB, `mysqldump` for MySQL) and the `mariadb`/`mysql` client
//! that loads a dump, found on `PATH` (or given), as pg_dump is found for PostgreSQL.
//!
//! Each child gets its connection only from a 0600 in-memory option file
//! ([`ChildOptionFile`]) named by its first argument: never the password in argv or in its
//! environment, from which the `MYSQL_*` variables, `DATABASE_URL` and
//! `SCHEMAGATE_DATABASE_URL` are removed so nothing inherited can steer or reach it.

use std::path::{Path, PathBuf};

use tokio::process::Command;

use crate::backup::process::{clean_environment, program_version};

use super::option_file::{ChildOptionFile, ClientFlavour};
use super::options::Options;

/// A client program.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub path: PathBuf,
    /// What `--version` said.
    pub version: String,
    pub flavour: ClientFlavour,
}

/// No usable client was found, or one could not be run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    /// None of the names was found.
    #[error(
        "no {wanted} found on PATH for this {server} server; install the client of the server's flavour (Debian/Ubuntu: mariadb-client for MariaDB, mysql-client for MySQL) or give its path with --pg-dump"
    )]
    Missing { wanted: String, server: String },
    /// The program could not be started.
    #[error("cannot run {program}")]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The dump client for a server whose `VERSION()` is `server_version`: `given`, else the
/// first of the flavour's names on `PATH` whose own version is of that flavour.
pub(crate) async fn dump_client(
    server_version: &str,
    given: Option<&Path>,
) -> Result<Client, ClientError> {
    let names: &[&str] = if server_version.contains("MariaDB") {
        &["mariadb-dump", "mysqldump"]
    } else {
        &["mysqldump"]
    };
    find(names, server_version, given).await
}

/// The client that loads a dump: beside the dump client, else on `PATH`.
pub(crate) async fn load_client(
    server_version: &str,
    dump: &Client,
) -> Result<Client, ClientError> {
    let names: &[&str] = match dump.flavour {
        ClientFlavour::Mariadb => &["mariadb", "mysql"],
        ClientFlavour::Mysql => &["mysql"],
    };
    for name in names {
        let beside = dump.path.with_file_name(name);
        if beside.is_file() {
            return find(&[], server_version, Some(&beside)).await;
        }
    }
    find(names, server_version, None).await
}

async fn find(
    names: &[&str],
    server_version: &str,
    given: Option<&Path>,
) -> Result<Client, ClientError> {
    let wanted_flavour = if server_version.contains("MariaDB") {
        ClientFlavour::Mariadb
    } else {
        ClientFlavour::Mysql
    };
    let candidates: Vec<PathBuf> = match given {
        Some(path) => vec![path.to_owned()],
        None => std::env::var_os("PATH")
            .map(|path| {
                std::env::split_paths(&path)
                    .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
                    .collect()
            })
            .unwrap_or_default(),
    };
    for path in candidates.into_iter().filter(|p| p.is_file()) {
        let version = version_of(&path).await?;
        let flavour = ClientFlavour::of_version(&version);
        if flavour == wanted_flavour || given.is_some() {
            return Ok(Client {
                path,
                version,
                flavour,
            });
        }
    }
    Err(ClientError::Missing {
        wanted: given.map_or_else(|| names.join(" or "), |p| p.display().to_string()),
        server: server_version.to_owned(),
    })
}

impl Client {
    /// A command for this program connecting like `options`: the option file is its first
    /// argument, the environment cleaned, killed on drop. Keep the returned file until the
    /// child is spawned, then drop it.
    pub(crate) fn command(
        &self,
        options: &Options,
    ) -> Result<(Command, ChildOptionFile), ClientError> {
        let file = ChildOptionFile::write(options, self.flavour).map_err(self.failed())?;
        let mut command = Command::new(&self.path);
        clean_environment(&mut command, "MYSQL");
        command.arg(file.argument()).kill_on_drop(true);
        Ok((command, file))
    }

    /// Turns an I/O error of spawning or waiting for this program into a [`ClientError`].
    pub(crate) fn failed(&self) -> impl FnOnce(std::io::Error) -> ClientError + '_ {
        |source| ClientError::Spawn {
            program: self.path.clone(),
            source,
        }
    }
}

/// The MariaDB/MySQL client's `--version`.
async fn version_of(path: &Path) -> Result<String, ClientError> {
    program_version(path, "MYSQL")
        .await
        .map_err(|source| ClientError::Spawn {
            program: path.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_dump_client_of_the_server_s_flavour_is_found_with_its_loader() {
        let server = "10.11.19-MariaDB-0+deb12u1";
        let dump = dump_client(server, None).await.unwrap();
        assert_eq!(dump.flavour, ClientFlavour::Mariadb, "{dump:?}");
        assert!(dump.version.contains("MariaDB"), "{dump:?}");
        let load = load_client(server, &dump).await.unwrap();
        assert_eq!(load.path.parent(), dump.path.parent());
        let missing = dump_client(server, Some(Path::new("/nonexistent/mariadb-dump")))
            .await
            .unwrap_err();
        assert!(
            missing.to_string().contains("/nonexistent/mariadb-dump"),
            "{missing}"
        );
    }
}
