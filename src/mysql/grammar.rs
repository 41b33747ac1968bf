//! MySQL's reading of migration files as the seam's [`Grammar`]: every pending file must
//! split into statements ([`super::split`]) before anything runs, and the lint is MySQL's
//! own ([`super::lint`]); no rule of PostgreSQL's applies here.

use crate::catalogue::{CatalogueError, Problem, Script};
use crate::config::Compat;
use crate::engine::Grammar;
use crate::lint::{Finding, LintError, LintFile};

pub(crate) struct MysqlGrammar;

pub(crate) static MYSQL_GRAMMAR: MysqlGrammar = MysqlGrammar;

impl Grammar for MysqlGrammar {
    fn check_pending(
        &self,
        origin: &str,
        scripts: &mut dyn Iterator<Item = &Script>,
    ) -> Result<(), CatalogueError> {
        let problems: Vec<Problem> = scripts
            .filter_map(|script| {
                let error = super::split::split(&script.sql).err()?;
                Some(Problem::Syntax(
                    script.file.clone(),
                    usize::try_from(error.line).unwrap_or(usize::MAX),
                    usize::try_from(error.column).unwrap_or(usize::MAX),
                    error.message,
                    "MariaDB/MySQL",
                ))
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(CatalogueError::Invalid {
                origin: origin.to_owned(),
                problems,
            })
        }
    }

    fn lint(&self, file: &LintFile, _compat: &Compat) -> Result<Vec<Finding>, LintError> {
        Ok(super::lint::lint(file))
    }
}
