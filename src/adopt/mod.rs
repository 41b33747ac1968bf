//! Taking over a database another migration tool kept (DESIGN §11, "Another tool's
//! history"): read that tool's table as the tool itself reads it, map each applied version
//! to the catalogue, refuse whatever cannot be trusted, and write our history in one
//! transaction. The other tool's table is only read, never changed.
//!
//! One file per tool ([`sqlx`], [`golang_migrate`], [`dbmate`], [`goose`], [`flyway`]), each
//! with its table name, how its applied versions are read, what makes a row dirty or
//! failed, and its checksum rule where one can be recomputed from our files. `model` holds
//! what every tool's table is read into, `mapping` the checks against the catalogue and
//! the rows it yields, `record` the write.

pub mod dbmate;
pub mod flyway;
pub mod golang_migrate;
pub mod goose;
mod mapping;
mod model;
mod record;
pub mod sqlx;

pub use mapping::{Mapped, map};
pub use model::{AdoptError, Checksum, Entry, Kind, Tool, ToolHistory};
pub use record::read;
pub(crate) use record::record;
