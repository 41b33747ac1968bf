//! The gate's lint of the migrations it is about to apply (DESIGN §12): `breaks-window`
//! always refuses, other findings refuse only in strict mode and are otherwise warnings.

use super::builder::Gate;
use super::error::{Error, Exit};
use crate::lint::{self, BREAKS_WINDOW, Finding, LintError, LintFile};
use crate::plan::{Direction, Plan};

/// Lints the up files of a forward plan before anything changes: refuses (exit 3) on an
/// unwaived `breaks-window`, and under `strict` on any unwaived finding; otherwise logs
/// each as a warning and returns how many there are. A file PostgreSQL's grammar refuses
/// (transactional files are not parsed at load) is left to the server, with a warning.
pub(crate) fn plan(gate: &Gate, plan: &Plan) -> Result<usize, Error> {
    let strict = gate
        .settings
        .strict_lint
        .unwrap_or(gate.release.compat.lint.strict);
    if plan.direction != Direction::Up {
        return Ok(0);
    }
    let mut active: Vec<Finding> = Vec::new();
    for step in &plan.steps {
        let Some(migration) = gate.release.catalogue.get(step.version) else {
            continue;
        };
        let file = LintFile {
            file: migration.up.file.clone(),
            sql: migration.up.sql.clone(),
            transactional: migration.up.transactional,
            version: Some(migration.version),
        };
        match lint::lint_file(&file, &gate.release.compat) {
            Ok(findings) => active.extend(findings.into_iter().filter(Finding::is_active)),
            Err(error @ LintError::Syntax { .. }) => {
                tracing::warn!(%error, "not linted: PostgreSQL's grammar refuses the file; the server will say where when it runs");
            }
            Err(error) => return Err(Error::new(Exit::Internal, error)),
        }
    }
    let refused: Vec<&Finding> = active
        .iter()
        .filter(|f| strict || f.rule == BREAKS_WINDOW)
        .collect();
    if !refused.is_empty() {
        let list: Vec<String> = refused.iter().map(|f| format!("  - {f}")).collect();
        let why = if strict {
            "strict lint (--lint strict or [lint] strict = true)"
        } else {
            "breaks-window is always refused"
        };
        return Err(Error::new(
            Exit::Refused,
            Refused {
                why,
                findings: list.join("\n"),
            },
        ));
    }
    for finding in &active {
        tracing::warn!(file = %finding.file, line = finding.line, column = finding.column, rule = finding.rule, safe = finding.safe, "lint: {}", finding.message);
    }
    Ok(active.len())
}

/// The plan's findings that refuse it.
#[derive(Debug, thiserror::Error)]
#[error(
    "the lint refuses the plan before any change ({why}); nothing was changed:\n{findings}\nwaive a finding in its file with `-- schemagate:allow RULE reason` once checked (docs/lint.md)"
)]
struct Refused {
    why: &'static str,
    findings: String,
}
