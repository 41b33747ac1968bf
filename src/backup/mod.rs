//! Pre-change backups (DESIGN §6): a verified `pg_dump --format=custom` with a JSON manifest
//! beside it, retention, listing and an exact restore.
//!
//! # Layout
//! - [`error`]: [`BackupError`], every way a backup, listing or restore can fail.
//! - [`tools`]: finding `pg_dump`/`pg_restore`/`psql` of the server's major version, and the
//!   `PG*` environment (never the password in argv) they run with.
//! - [`dump`]: [`take`]: dump, verify while streaming, hash, fsync, rename, manifest.
//! - [`manifest`]: [`Manifest`], [`Backup`], file naming and [`list`].
//! - [`retention`]: [`prune`] by count and age, keeping the newest of each schema version.
//! - [`restore`]: [`restore()`]: checksum, then drop the schemas and replay the dump in one
//!   transaction.
//!
//! # On disk
//! `{db}-schema{version}-{YYYYMMDDTHHMMSS.mmm}Z.dump` (custom format, 0600) and its manifest
//! `<dump file>.json` (0600) in the backup directory (created 0700). A dump is in flight as
//! `.<name>.partial` and removed if anything fails. Only pairs of a well-named dump and a
//! readable manifest are listed, pruned or restored; other files are never touched.

pub mod dump;
pub mod error;
pub mod manifest;
mod process;
pub mod restore;
pub mod retention;
pub mod tools;

pub use dump::{Request, take};
pub use error::BackupError;
pub use manifest::{Backup, Manifest, list};
pub use restore::{RestorePlan, restore};
pub use retention::{Retention, prune};
