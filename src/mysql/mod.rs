//! The MariaDB/MySQL wing (`mysql://`, `mariadb://`; cargo feature `mysql`): everything the
//! gate asks of a database, said in MariaDB's and MySQL's terms (DESIGN §17).
//!
//! There, DDL commits by itself: a step cannot be one transaction, so its progress is
//! recorded statement by statement and a step that fails part way leaves the database
//! *dirty*, refused by every run until it is repaired or restored ([`history`], [`step`]).
//!
//! - [`options`]: the URL (`ssl-mode` in the client's words), printed without its password.
//! - [`option_file`]: `~/.my.cnf` read, and the 0600 in-memory option file of a child.
//! - [`connect`]: sessions over rustls, retried until the server answers.
//! - `literal`: strings written into queries sent as text (no prepare round trip).
//! - [`lock`]: the migration lock (`GET_LOCK` on a session of its own), its holder named.
//! - [`history`]: refinery's table with progress columns; dirty rows; `repair`.
//! - [`split`]: a file cut into statements by MySQL's lexer, `DELIMITER` understood.
//! - [`step`]: one step run statement by statement (data-only files in a transaction).
//! - [`lint`]: MySQL's own lint rule (an `ALTER TABLE` that may copy the table).
//! - [`writable`]: refusing a read-only server.
//! - [`schema`]: the database described from `information_schema`.
//! - [`audit`]: the audit trail and the fleet tables in MySQL's types.
//! - `drift`: `schemagate_schema`, the description each change left.
//! - [`client`]: the dump and load clients of the server's flavour, given their option file.
//! - [`dump`]: verified backups with `mariadb-dump`/`mysqldump`.
//! - [`restore`]: a backup's restore plan, and the restore (objects dropped, dump loaded,
//!   a part-loaded database refused).
//! - [`scratch`]: scratch databases beside the live one, always dropped.

pub(crate) mod audit;
pub(crate) mod client;
pub(crate) mod connect;
mod drift;
pub(crate) mod dump;
mod engine;
pub(crate) mod error;
mod grammar;
mod held;
pub(crate) mod history;
pub(crate) mod lint;
mod literal;
pub(crate) mod lock;
pub(crate) mod option_file;
pub(crate) mod options;
mod pool;
pub(crate) mod restore;
pub(crate) mod schema;
pub(crate) mod scratch;
mod session;
pub(crate) mod split;
pub(crate) mod step;
mod steps;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
pub(crate) mod throwaway;
pub(crate) mod writable;

pub(crate) use engine::engine;
pub(crate) use grammar::MYSQL_GRAMMAR;

/// Whether `error` is mysql_async's own, which the errors keeping it as their source have
/// described already.
pub(crate) fn is_driver_error(error: &(dyn std::error::Error + 'static)) -> bool {
    error.is::<mysql_async::Error>()
}
