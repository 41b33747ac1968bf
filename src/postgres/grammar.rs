//! PostgreSQL's grammar (pg_query, [`crate::postgres::sql`]) as the seam's [`Grammar`].

use crate::catalogue::{CatalogueError, Script};
use crate::config::Compat;
use crate::engine::Grammar;
use crate::lint::{Finding, LintError, LintFile};

/// PostgreSQL's reading of migration files.
pub(crate) struct PgGrammar;

/// The one there is.
pub(crate) static PG_GRAMMAR: PgGrammar = PgGrammar;

impl Grammar for PgGrammar {
    fn check_pending(
        &self,
        origin: &str,
        scripts: &mut dyn Iterator<Item = &Script>,
    ) -> Result<(), CatalogueError> {
        super::pending::check_pending(origin, scripts)
    }

    fn lint(&self, file: &LintFile, compat: &Compat) -> Result<Vec<Finding>, LintError> {
        super::lint::lint_file(file, compat)
    }
}
