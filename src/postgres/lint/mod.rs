//! PostgreSQL's lint rules (DESIGN §12) on its own parse tree (pg_query): statements that
//! lock or rewrite a live table, and changes that break a release still running inside
//! this release's window (Squawk and strong_migrations for the rules).
//!
//! `input` holds what a rule sees of a file, `rules` one file per rule (each with its id,
//! message, safe alternative and table of tests), `waiver` the
//! `-- schemagate:allow RULE reason` comments; [`lint_file`] runs every rule on a file.

mod input;
mod rules;
mod waiver;

use crate::config::Compat;
use crate::lint::{Finding, LintError, LintFile};
use crate::position::line_column;
use crate::postgres::sql;

use input::{Created, Input};
use rules::RULES;

/// Every rule's findings in one file, waived ones marked. The file is read a statement at
/// a time and each tree is dropped once the rules have seen it, so memory follows the
/// largest statement; what a rule needs of the statements before (the tables the file
/// created) is kept in [`Created`].
pub(crate) fn lint_file(file: &LintFile, compat: &Compat) -> Result<Vec<Finding>, LintError> {
    let mut created = Created::default();
    let mut hits = Vec::new();
    let comments = sql::read(&file.sql, &mut |statement| {
        created.add(&statement);
        let input = Input {
            statements: std::slice::from_ref(&statement),
            transactional: file.transactional,
            version: file.version,
            compat,
            created: &created,
        };
        for rule in RULES {
            hits.extend((rule.check)(&input).into_iter().map(|hit| (rule, hit)));
        }
    })
    .map_err(|error| {
        let (line, column) = line_column(&file.sql, error.offset);
        LintError::Syntax {
            file: file.file.clone(),
            line,
            column,
            message: error.message,
            grammar: "PostgreSQL",
        }
    })?;
    let waivers = waiver::waivers(&comments);
    let known = |id: &str| RULES.iter().any(|r| r.id == id);
    let place = |offset: usize| line_column(&file.sql, offset);
    let mut findings = Vec::new();
    for waiver in &waivers {
        if let Some(message) = waiver::problem(waiver, known) {
            let (line, column) = place(waiver.offset);
            findings.push(Finding {
                file: file.file.clone(),
                line,
                column,
                rule: waiver::RULE_ID,
                message,
                safe: waiver::SAFE,
                waived: None,
            });
        }
    }
    for (rule, hit) in hits {
        let waived = waivers
            .iter()
            .find(|w| w.rule == rule.id && !w.reason.is_empty())
            .map(|w| w.reason.clone());
        let (line, column) = place(hit.offset);
        findings.push(Finding {
            file: file.file.clone(),
            line,
            column,
            rule: rule.id,
            message: hit.message,
            safe: rule.safe,
            waived,
        });
    }
    findings.sort_by_key(|f| (f.line, f.column));
    Ok(findings)
}
