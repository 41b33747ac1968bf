//! The PostgreSQL wing (DESIGN §1–16): the engine seam ([`crate::engine`]) implemented with
//! tokio-postgres, libpq's connection rules, advisory locks, `pg_dump`/`pg_restore` and
//! PostgreSQL's own grammar (pg_query).
//!
//! - `database`: [`Postgres`], the engine of one URL, and [`engine`], what the router calls.
//! - `session`: a connection and what the gate asks on it.
//! - `held`: the held advisory lock as the seam's lock.
//! - `pool`: the refresh's pool.
//! - `scratch`: scratch databases.
//! - `steps`: running a plan's steps with the watcher that names (and, on a stop, cancels)
//!   whoever blocks a step.
//! - `grammar`: splitting, the certain failures and the lint with pg_query.

mod database;
mod grammar;
mod held;
mod pool;
mod scratch;
mod session;
mod steps;

pub(crate) use database::{Target, engine};
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
    if crate::db::connection_lost(error) {
        crate::gate::Exit::Unreachable
    } else {
        otherwise
    }
}
