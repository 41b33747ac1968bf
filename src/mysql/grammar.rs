//! MySQL's reading of migration files as the seam's [`Grammar`]: every pending file must
//! split into statements ([`super::split`]) before anything runs. No lint rule of
//! PostgreSQL's applies here, and MySQL's own are not written yet: lint finds nothing.

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

    fn lint(&self, _file: &LintFile, _compat: &Compat) -> Result<Vec<Finding>, LintError> {
        Ok(Vec::new())
    }
}
