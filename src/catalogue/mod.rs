//! The migration catalogue: the release's up and down files, paired, validated and
//! checksummed before any SQL runs (DESIGN §3).
//!
//! `naming` parses file names, `directives` reads the comment markers at the top of a file,
//! `statements` splits SQL for no-transaction files, `load` reads embedded files or a
//! directory, and `model` holds the validated result.

mod checksum;
mod directives;
mod load;
mod model;
mod naming;
mod statements;

pub use directives::Timeouts;
pub use load::{CatalogueError, Problem, SourceFile, embedded, from_dir, from_files};
pub use model::{Catalogue, Down, Migration, Script};
pub use naming::{Direction, ParsedName, Style, parse_file_name};
pub use statements::split_statements;
