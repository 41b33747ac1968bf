//! What a backup belongs to and what took it, on every engine: the server and database
//! ([`Server`], [`Origin`]) and the client program ([`Tool`]).

use std::path::PathBuf;

use super::BackupError;

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
    /// Turns an I/O error of spawning or waiting for this tool into a [`BackupError`].
    pub fn failed(&self) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
        |source| BackupError::Spawn {
            program: self.path.clone(),
            source,
        }
    }
}
