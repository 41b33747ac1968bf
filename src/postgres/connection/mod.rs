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

pub mod child;
pub mod connect;
pub mod conninfo;
mod display;
pub mod env;
mod error;
pub mod model;
pub mod passfile;
pub mod tls;

pub use child::{ChildConnection, ChildError};
pub use connect::{Connector, Failed};
pub use env::Environment;
pub use error::ConnectionError;
pub use model::{Connection, Host, RootCert, SessionAttrs, SslMode, Target};
