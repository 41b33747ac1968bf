//! [`Grammar`]: SQL read with the engine's own grammar, before anything runs.

use crate::catalogue::{CatalogueError, Script};
use crate::config::Compat;
use crate::lint::{Finding, LintError, LintFile};

/// The engine's reading of migration files; pure, no database needed.
pub(crate) trait Grammar: Send + Sync {
    /// Refuses (naming file, line and column) the files a plan is about to run when one is
    /// certain to fail on this engine; splits the no-transaction ones for the run.
    fn check_pending(
        &self,
        origin: &str,
        scripts: &mut dyn Iterator<Item = &Script>,
    ) -> Result<(), CatalogueError>;

    /// This engine's lint rules on one file, waived findings marked.
    fn lint(&self, file: &LintFile, compat: &Compat) -> Result<Vec<Finding>, LintError>;
}
