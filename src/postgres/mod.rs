//! The PostgreSQL wing (DESIGN §1–16): the engine seam ([`crate::engine`]) implemented with
//! tokio-postgres, libpq's connection rules, advisory locks, `pg_dump`/`pg_restore` and
//! PostgreSQL's own grammar (pg_query).
//!
//! - `adopt`: another tool's history table read as that tool reads it.
//! - [`audit`]: the `schemagate_audit` table.
//! - `backup`: `pg_dump` backups and their exact restore.
//! - [`connection`]: one connection model with libpq's rules: URL/key=value, `PG*`,
//!   passfile, TLS (`sslmode`), and the environment of child processes.
//! - [`db`]: connect-with-retry, the refresh's pool, and which failures are permanent.
//! - `drift`: the `schemagate_schema` table: the description each change left.
//! - [`ddl`]: DDL lock timeouts as `SET`s, and who blocks a step.
//! - [`fleet`]: the `schemagate_fleet` table: race-safe creation, announce, leave, live rows.
//! - [`history`]: refinery's `refinery_schema_history` table.
//! - [`lock`]: the migration lock (session advisory lock on a dedicated connection).
//! - [`migrate`]: runs a plan's files, each with its history change in one transaction.
//! - [`pooler`]: refusing a transaction pooler, behind which the lock's session is not one.
//! - [`schema`]: the user schemas' objects, described to compare two databases.
//! - [`sql`]: SQL read with PostgreSQL's own grammar (pg_query), a statement at a time.
//! - `tracked`: the schema followed step by step for `verify`, from the objects each step's
//!   DDL touched (event triggers) or the catalogue rows it wrote.
//! - `database`: the engine of one URL, and [`engine`], what the router calls.
//! - `session`: a connection and what the gate asks on it.
//! - `held`: the held advisory lock as the seam's lock.
//! - `pool`: the refresh's pool.
//! - `scratch`: scratch databases.
//! - `steps`: running a plan's steps with the watcher that names (and, on a stop, cancels)
//!   whoever blocks a step.
//! - `grammar`: PostgreSQL's grammar as the seam's: `pending` (the certain failures of
//!   the files a plan runs, and their statements) and `lint` (the rules on pg_query's tree).

mod adopt;
pub(crate) mod audit;
pub(crate) mod backup;
pub(crate) mod connection;
mod database;
pub(crate) mod db;
pub(crate) mod ddl;
mod drift;
pub(crate) mod fleet;
mod grammar;
mod held;
pub(crate) mod history;
mod lint;
pub(crate) mod lock;
pub(crate) mod migrate;
mod pending;
mod pool;
pub(crate) mod pooler;
pub(crate) mod schema;
mod scratch;
mod session;
pub(crate) mod sql;
mod steps;
#[cfg(test)]
pub(crate) mod testing;
mod tracked;

pub(crate) use database::{Target, engine};
pub(crate) use grammar::PG_GRAMMAR;
pub(crate) use pool::PgPool;
pub(crate) use session::PgSession;

/// Whether `error` is tokio-postgres' own, which the errors keeping it as their source
/// have described already.
pub(crate) fn is_driver_error(error: &(dyn std::error::Error + 'static)) -> bool {
    error.is::<tokio_postgres::Error>()
}

/// Exit 4 when `error` says the connection is gone, else `otherwise`.
pub(crate) fn exit_of(
    error: &tokio_postgres::Error,
    otherwise: crate::gate::Exit,
) -> crate::gate::Exit {
    if crate::postgres::db::connection_lost(error) {
        crate::gate::Exit::Unreachable
    } else {
        otherwise
    }
}
