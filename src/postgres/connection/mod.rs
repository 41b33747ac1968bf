//! One connection model, built the way libpq builds it (DESIGN §10), for every connection
//! schemagate makes (the gate's, the lock's, the refresh pool's) and those of its child
//! processes.
//!
//! - [`conninfo`]: parsing URLs and key=value strings with libpq's rules.
//! - [`env`]: the `PG*` variables, home directory and OS user that fill the gaps.
//! - [`passfile`]: `~/.pgpass` lookup with libpq's matching and permission check.
//! - [`model`]: the resolved [`Connection`] (password in a `SecretString`).
//! - `display`: how a connection prints — a URL rebuilt without the password.
//! - [`tls`]: rustls with libpq's `sslmode` semantics and certificate checks.
//! - [`connect`]: one attempt over every host with libpq's TLS fallbacks.
//! - [`child`]: the environment and in-memory passfile of `pg_dump`, `pg_restore`, `psql`.

pub(crate) mod child;
pub(crate) mod connect;
pub(crate) mod conninfo;
mod display;
pub(crate) mod env;
mod error;
pub(crate) mod model;
pub(crate) mod passfile;
pub(crate) mod tls;

#[cfg(test)]
mod conformance;

pub(crate) use child::ChildConnection;
pub(crate) use connect::Connector;
pub(crate) use error::ConnectionError;
pub(crate) use model::Connection;
