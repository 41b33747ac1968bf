//! `schemagate lint`: migrations checked with PostgreSQL's own parse tree for statements
//! that lock or rewrite a live table, and for changes that break a release still running
//! inside this release's window (DESIGN §12; Squawk and strong_migrations for the rules).
//!
//! `finding` holds what a rule reports, `input` what a rule sees of a file, `rules` one
//! file per rule (each with its id, message, safe alternative and table of tests),
//! `waiver` the `-- schemagate:allow RULE reason` comments, `check` runs every rule on
//! files, and `report` prints findings as text, JSON or GitHub annotations.

mod check;
mod finding;
mod input;
mod report;
pub mod rules;
mod waiver;

pub use check::{LintError, LintFile, lint, lint_file};
pub use finding::Finding;
pub use input::{Created, Input};
pub use report::{Format, render};
pub use rules::{BREAKS_WINDOW, RULES, Rule};
