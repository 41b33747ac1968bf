//! Pre-change backups (DESIGN §6): each engine's verified dump (PostgreSQL's `pg_dump
//! --format=custom` in `src/postgres/backup/`, SQLite's and MariaDB's in their wings) with
//! a JSON manifest beside it, retention, listing and an exact restore.
//!
//! # Layout
//! - [`error`]: [`BackupError`], every way a backup, listing or restore can fail.
//! - [`tools`]: the server and database a backup belongs to, the client program that
//!   took it, and a child's cleaned environment.
//! - `dump`: the file in flight, the directory.
//! - [`manifest`]: [`Manifest`], [`Backup`], file naming, the dry run's [`Preview`] and [`list`].
//! - [`retention`]: [`prune`] by count and age, keeping the newest of each schema version.
//! - [`restore`]: [`RestorePlan`], what a restore will do, and [`RestoreRefusal`].
//!
//! # On disk
//! `{db}-schema{version}-{YYYYMMDDTHHMMSS.mmm}Z.dump` (custom format, 0600) and its manifest
//! `<dump file>.json` (0600) in the backup directory (created 0700). A dump is in flight as
//! `.<name>.partial` (locked while written) and removed if anything fails; one left by a run
//! that died (SIGKILL, power loss) is removed by the next backup once unlocked and a minute
//! old. Only pairs of a well-named dump and a readable manifest are listed, pruned or
//! restored; no other file is ever touched.

// The file in flight of the engines that write their dump themselves.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub(crate) mod dump;
pub(crate) mod error;
pub(crate) mod manifest;
// The client programs of the engines that run them (SQLite's backups need none).
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) mod process;
pub(crate) mod restore;
pub(crate) mod retention;
pub(crate) mod tools;

pub use error::BackupError;
pub use manifest::{Backup, Manifest, Preview, list, list_of};
pub use restore::{RestoreOptions, RestorePlan, RestoreRefusal};
pub use retention::{Retention, due, prune};
pub use tools::{Origin, Server};
