//! The migration catalogue: the release's up and down files, paired, validated and
//! checksummed before any SQL runs (DESIGN §3).
//!
//! `naming` parses file names, `directives` reads the comment markers at the top of a file
//! (and lets the lint read them), `load` reads embedded files or a directory (names, text,
//! checksums: no SQL is parsed at load), on every core for a large catalogue (`parallel`),
//! `model` holds the validated result, and `placeholders` gives `${NAME}` its value in the
//! text sent to the database alone. The files a plan is about to run are read with the
//! engine's grammar ([`crate::engine::Grammar`]) before anything changes.

mod checksum;
pub(crate) mod directives;
mod load;
mod model;
mod naming;
mod parallel;
mod placeholders;

pub use directives::Timeouts;
pub use load::{CatalogueError, Problem, SourceFile, from_dir, from_files, from_static};
pub use model::{Catalogue, Down, Migration, Script};
pub use naming::{
    Direction, Engine, ParsedName, Style, diesel_version, parse_file_name, spelled_version,
    variant_file_name,
};
pub use placeholders::{
    ENV_PREFIX as PLACEHOLDER_ENV_PREFIX, Hidden, Placeholders, is_name as is_placeholder_name,
    masked,
};
