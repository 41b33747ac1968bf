//! Taking over a database another migration tool kept (DESIGN §11, "Another tool's
//! history"): read that tool's table as the tool itself reads it, map each applied version
//! to the catalogue, refuse whatever cannot be trusted, and write our history in one
//! transaction. The other tool's table is only read, never changed.
//!
//! One file per tool ([`sqlx`], [`golang_migrate`], [`dbmate`], [`goose`], [`flyway`],
//! [`diesel`]), each with its table's layout, what makes a row dirty or failed, and its
//! checksum rule where one can be recomputed from our files; each engine's wing reads the
//! table (the PostgreSQL wing's `adopt` module). `model` holds
//! what every tool's table is read into, `mapping` the checks against the catalogue and
//! the rows it yields, `record` the write.

pub(crate) mod dbmate;
pub(crate) mod diesel;
pub(crate) mod flyway;
pub(crate) mod golang_migrate;
pub(crate) mod goose;
mod mapping;
mod model;
mod record;
pub(crate) mod sqlx;

pub use mapping::{Mapped, map};
pub use model::{AdoptError, Checksum, Entry, Kind, Tool, ToolHistory};
pub use record::check_layout;
pub(crate) use record::record;
