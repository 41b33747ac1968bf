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
//! - [`schema`]: the schema described for `verify` and `baseline --verify`;
//!   [`scratch`]: the scratch database, always removed.
//! - [`writable`]: refusing a change to a read-only database.
//! - [`error`]: what goes wrong opening, reading and writing.

// Until the engine seam lands (src/engine/), only the tests call the wing.
#![allow(dead_code, reason = "plugged into the engine seam once it lands")]

pub(crate) mod audit;
pub(crate) mod backup;
pub(crate) mod complete;
pub(crate) mod connect;
pub(crate) mod error;
pub(crate) mod fleet;
pub(crate) mod grammar;
pub(crate) mod history;
pub(crate) mod local;
pub(crate) mod lock;
pub(crate) mod restore;
pub(crate) mod run;
pub(crate) mod schema;
pub(crate) mod scratch;
pub(crate) mod statements;
pub(crate) mod step;
pub(crate) mod url;
pub(crate) mod writable;
