//! PostgreSQL's backups (DESIGN §6): a verified `pg_dump --format=custom` and an exact
//! restore through `pg_restore` and `psql`, with the manifest, retention and listing every
//! engine shares ([`crate::backup`]).
//!
//! - [`tools`]: finding `pg_dump`/`pg_restore`/`psql` of the server's major version, and
//!   the `PG*` environment (never the password in argv) they run with.
//! - [`dump`]: [`take`]: dump, verify while streaming, hash, fsync, rename, manifest.
//! - [`restore`]: [`restore()`]: checksum, refusals, then drop the schemas and replay the
//!   dump in one transaction.
//! - [`toc`]: the dump's table of contents, filtered to what the restore dropped.

pub(crate) mod dump;
pub(crate) mod restore;
mod toc;
pub(crate) mod tools;

pub(crate) use dump::{Request, preview, take};
pub(crate) use restore::restore;

use crate::backup::BackupError;

impl BackupError {
    /// A [`BackupError::Query`] from a PostgreSQL error.
    pub(crate) fn query(action: &'static str, error: &tokio_postgres::Error) -> Self {
        Self::Query {
            action,
            message: crate::postgres::db::describe(error),
        }
    }
}
