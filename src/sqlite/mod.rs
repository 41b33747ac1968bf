//! The SQLite wing (DESIGN §17): everything schemagate does to a SQLite database, behind
//! the `sqlite` cargo feature. rusqlite with SQLite compiled in (`bundled`); every call
//! runs on tokio's blocking pool ([`connect::Database::call`]).
//!
//! # Layout
//! - [`url`]: `sqlite:PATH` / `sqlite://PATH` URLs with `?mode=rwc|rw|ro`.
//! - [`connect`]: opening the file (`busy_timeout`), and the blocking pool.
//! - [`local`]: refusing a database on a network file system.
//! - [`lock`]: the migration lock, an `flock` on `<database>-schemagate.lock`.
//! - [`history`], [`audit`], [`fleet`]: schemagate's tables in SQLite's types, the
//!   history in refinery's layout.
//! - [`complete`], [`grammar`]: statements split as `sqlite3_complete()` does, and the
//!   failures certain before anything runs.
//! - [`run`]: a plan's steps in order, a stop heard between them, `--atomic` as one
//!   transaction.
//! - [`statements`], [`step`]: one step in `BEGIN IMMEDIATE … COMMIT` with its history
//!   row, statements split by SQLite's own parser.
//! - [`backup`], [`restore`]: verified copies with the online backup API, and back.
//! - [`schema`]: the schema described for `verify`, `baseline --verify` and drift;
//!   [`drift`]: `schemagate_schema`, the description each change left;
//!   [`scratch`]: the scratch database, always removed.
//! - [`writable`]: refusing a change to a read-only database.
//! - [`error`]: what goes wrong opening, reading and writing.
//! - `engine`, `session`, `held`, `pool`, [`scratch`]: the wing behind the seam's traits
//!   ([`crate::engine`]): the engine of a `sqlite:` URL, its sessions, the held lock, the
//!   refresh's connection and the scratch database.

pub(crate) mod audit;
pub(crate) mod backup;
pub(crate) mod complete;
pub(crate) mod connect;
pub(crate) mod drift;
mod engine;
pub(crate) mod error;
pub(crate) mod fleet;
pub(crate) mod grammar;
mod held;
pub(crate) mod history;
pub(crate) mod local;
pub(crate) mod lock;
mod pool;
pub(crate) mod restore;
pub(crate) mod run;
pub(crate) mod schema;
pub(crate) mod scratch;
mod session;
pub(crate) mod statements;
pub(crate) mod step;
pub(crate) mod url;
pub(crate) mod writable;

pub(crate) use engine::engine;
pub(crate) use grammar::SQLITE_GRAMMAR;

/// Whether `error` is rusqlite's own, which the errors keeping it as their source have
/// described already.
pub(crate) fn is_driver_error(error: &(dyn std::error::Error + 'static)) -> bool {
    error.is::<rusqlite::Error>()
}
