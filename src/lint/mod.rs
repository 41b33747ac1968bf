//! `schemagate lint` and the gate's lint of its plan (DESIGN §12): each engine's rules on
//! its own reading of SQL, asked of the engine's [`crate::engine::Grammar`]
//! (PostgreSQL's, on its parse tree, are in `src/postgres/lint/`).
//!
//! `finding` holds what a rule reports, `check` the files to lint and the entry point,
//! and `report` prints findings as text, JSON or GitHub annotations.

mod check;
mod finding;
mod report;

pub use check::{LintError, LintFile, lint};
pub use finding::Finding;
pub use report::{Format, render};

/// The id of the rule that finds a change breaking a release still inside the window,
/// which the gate refuses whatever the lint mode.
pub const BREAKS_WINDOW: &str = "breaks-window";
