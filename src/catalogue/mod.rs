//! The migration catalogue: the release's up and down files, paired, validated and
//! checksummed before any SQL runs (DESIGN §3).
//!
//! `naming` parses file names, `directives` reads the comment markers at the top of a file
//! (and lets the lint read them), `load` reads embedded files or a directory (names, text,
//! checksums: no SQL is parsed at load), on every core for a large catalogue (`parallel`),
//! `model` holds the validated result, and `pending` reads the files a plan is about to run
//! with PostgreSQL's grammar ([`crate::postgres::sql`]) before anything changes.

mod checksum;
pub mod directives;
mod load;
mod model;
mod naming;
mod parallel;
mod pending;

/// Splitting by PostgreSQL's grammar, where the catalogue's no-transaction files are split.
pub use crate::postgres::sql::split_statements;
pub use directives::Timeouts;
pub use load::{CatalogueError, Problem, SourceFile, from_dir, from_files, from_static};
pub use model::{Catalogue, Down, Migration, Script};
pub use naming::{Direction, ParsedName, Style, parse_file_name};
pub use pending::check_pending;
