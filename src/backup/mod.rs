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
//! - [`restore`]: [`restore()`]: checksum, refusals, then drop the schemas and replay the
//!   dump in one transaction.
//! - [`toc`]: the dump's table of contents, filtered to what the restore dropped.
//!
//! # On disk
//! `{db}-schema{version}-{YYYYMMDDTHHMMSS.mmm}Z.dump` (custom format, 0600) and its manifest
//! `<dump file>.json` (0600) in the backup directory (created 0700). A dump is in flight as
//! `.<name>.partial` (locked while written) and removed if anything fails; one left by a run
//! that died (SIGKILL, power loss) is removed by the next backup once unlocked and a minute
//! old. Only pairs of a well-named dump and a readable manifest are listed, pruned or
//! restored; no other file is ever touched.

pub mod dump;
pub mod error;
pub mod manifest;
pub(crate) mod process;
pub mod restore;
pub mod retention;
mod toc;
pub mod tools;

pub use dump::{Preview, Request, preview, take};
pub use error::BackupError;
pub use manifest::{Backup, Manifest, list, list_of};
pub use restore::{RestoreOptions, RestorePlan, RestoreRefusal, restore};
pub use retention::{Retention, due, prune};
pub use tools::{Origin, Server};
