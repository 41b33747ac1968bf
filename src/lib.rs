//! schemagate guards a database schema across application releases (DESIGN §1); PostgreSQL
//! is its engine today, behind the seam other engines plug into (DESIGN §17). It is a
//! library first (DESIGN §13): an application embeds its migrations and window and gates
//! itself at startup; the `schemagate` binary (`src/bin/schemagate/`: command line, logging,
//! dispatch) is one client of the same API.
//!
//! ```no_run
//! # async fn start() -> Result<(), Box<dyn std::error::Error>> {
//! use warp::Filter;
//! let release = schemagate::Release::new(
//!     schemagate::embed_catalogue!("migrations")?,
//!     schemagate::Compat::from_toml_str(include_str!("../compat.toml"))?,
//! );
//! let gate = schemagate::Gate::builder(release)
//!     .database_url(std::env::var("DATABASE_URL")?)
//!     .backup_dir("/app/backups")
//!     .build()?;
//! let report = gate.run().await?; // lock, backup, migrate, verdict
//! tokio::spawn(gate.refresh(std::future::pending())?);
//! let api = warp::path("hello").map(|| "hello");
//! warp::serve(api.or(gate.routes())).run(([0, 0, 0, 0], 8080)).await;
//! # Ok(()) }
//! ```
//!
//! # Map
//! - [`gate`]: the library boundary: [`Release`], [`Gate`] and its builder, settings,
//!   typed errors with exit codes, the gate run, routes and refresh, every command.
//! - [`engine`]: the engine seam (DESIGN §17): what the gate does to a database, as traits
//!   with one implementation per engine; the URL's scheme picks the engine in one place.
//! - `postgres`: the PostgreSQL wing: the seam implemented with tokio-postgres, advisory
//!   locks, `pg_dump`/`pg_restore` and pg_query: `connection` (libpq's rules), `db`
//!   (connect-with-retry, the refresh's pool), `ddl`, `history` (refinery's table), `lock`,
//!   `migrate`, `pooler`, `sql` (PostgreSQL's grammar).
//! - [`applied`]: one history row, as every engine records it.
//! - [`audit`]: the `schemagate_audit` trail of every schema change.
//! - [`config`]: `compat.toml`, the release's window.
//! - [`drift`]: the description each change left, and the live schema compared with it.
//! - [`catalogue`]: migration files: naming, pairing, embedding, directory loading, checksums,
//!   and the check of the files a plan is about to run (no SQL is parsed at load).
//! - [`baseline`]: taking over a database with tables but no history (`baseline`, `[adopt]`).
//! - [`adopt`]: taking over another tool's history (sqlx, golang-migrate, dbmate, goose,
//!   Flyway): its table read as the tool reads it, mapped and checked against the catalogue.
//! - [`backup`]: pre-change `pg_dump` backups: verify, manifest, retention, list, restore.
//! - [`fleet`]: `schemagate_fleet`: the serving replicas of every release, and the admission of
//!   a change that would break one of them.
//! - [`duration`]: durations as PostgreSQL tools read them (bare seconds or units).
//! - [`limits`]: how long a migration's statements wait for locks and run, and retries.
//! - [`lint`]: `schemagate lint` and the gate's lint of its plan: one file per rule, waivers, formats.
//! - [`input`]: files a user names (a dump, its manifest, `--compat`), read only when regular
//!   and of a sane size.
//! - [`plan`]: pure planning and verdicts.
//! - `mysql`: the MariaDB/MySQL wing (feature `mysql`): the engine seam implemented with
//!   mysql_async, `GET_LOCK`, per-statement progress and `mariadb-dump`.
//! - [`position`]: line and column of an offset, for messages.
//! - [`schema`]: two descriptions of a schema compared.
//! - [`scratch`]: migrating a scratch database to prove things (the engine makes and drops it).
//! - `sqlite`: the SQLite wing (feature `sqlite`): `sqlite:` URLs, the `flock` lock, the
//!   tables, steps, backups and schema of a SQLite file.
//! - [`server`]: `/health`, `/metrics`, background refresh, graceful shutdown, `healthcheck`.
//! - [`stop`]: SIGTERM/SIGINT from the first instant: the gate stops between steps (exit 8).
//! - [`verify`]: every down proven to invert its up, on a scratch database.
//!
//! Only the gate's API is public: what an application embeds ([`Release`], [`Gate`],
//! [`Compat`], [`Catalogue`], [`embed_catalogue!`]) and what the binary, one more client,
//! renders (the settings, reports, events and errors of every command). The rest is
//! `pub(crate)` (`unreachable_pub` says so wherever it is missed).
//!
//! # Glossary
//! - **catalogue**: the release's migrations (up + down files), embedded or from a directory.
//! - **history**: the rows of applied migrations in the database.
//! - **window**: `[min, max]` schema versions a release runs on, and its `target`.
//! - **plan**: the steps a run will execute; **verdict**: whether a version fits the window.
//! - **lock**: the migration lock; **backup**: the verified `pg_dump` taken before a change.
//! - **fleet**: the serving replicas of every release; **admission**: the fleet's verdict on a
//!   change (would it break a live replica of another release?).

// Every item the API does not name says `pub(crate)`, so the compiler finds dead code.
#![warn(unreachable_pub)]

#[cfg(not(any(feature = "postgres", feature = "sqlite", feature = "mysql")))]
compile_error!(
    "schemagate gates no database without an engine: enable at least one of the cargo features `postgres`, `sqlite`, `mysql`"
);

pub mod adopt;
pub mod applied;
pub mod audit;
pub mod backup;
pub(crate) mod baseline;
pub mod catalogue;
pub(crate) mod config;
pub(crate) mod drift;
pub mod duration;
pub(crate) mod engine;
pub mod fleet;
pub mod gate;
pub(crate) mod input;
pub mod limits;
pub mod lint;
#[cfg(feature = "mysql")]
pub(crate) mod mysql;
pub mod plan;
pub(crate) mod position;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
pub(crate) mod schema;
pub(crate) mod scratch;
pub mod server;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;
pub mod stop;
#[cfg(all(test, any(feature = "postgres", feature = "mysql")))]
mod testing;
pub(crate) mod verify;

#[cfg(feature = "postgres")]
pub(crate) use postgres::{db, ddl, history, migrate};

pub use catalogue::Catalogue;
pub use config::{Compat, ConfigError};
pub use gate::{Error, Exit, Gate, GateBuilder, Reason, Release, Report};
/// The migrations of a directory embedded in the binary; see [`schemagate_macros`].
pub use schemagate_macros::embed_catalogue;
