//! The gate's reading of the files it is about to run, before anything changes: the
//! certain failures of DESIGN §18 (a statement PostgreSQL's grammar or a transaction block
//! refuses) are exit 2, like any other bad file; then the lint of DESIGN §12:
//! `breaks-window` always refuses, other findings refuse only in strict mode and are
//! otherwise warnings.

use super::builder::Gate;
use super::error::{Error, Exit};
use crate::catalogue::Down;
use crate::lint::{BREAKS_WINDOW, Finding, LintFile};
use crate::plan::{Direction, Plan};

/// Refuses the plan (exit 2) when a file it runs would certainly fail: every statement of
/// every step's file, up or down, is read with the engine's grammar. Only these files are
/// parsed; applied ones never are. The gate calls it through [`plan`]; a rollback calls it
/// on its plan before it shows it.
pub(crate) fn certain_failures(gate: &Gate, plan: &Plan) -> Result<(), Error> {
    let catalogue = &gate.release.catalogue;
    let mut scripts = plan.steps.iter().filter_map(|step| {
        let migration = catalogue.get(step.version)?;
        match (plan.direction, &migration.down) {
            (Direction::Up, _) => Some(&migration.up),
            (Direction::Down, Down::Script(script)) => Some(script),
            (Direction::Down, Down::Irreversible { .. }) => None,
        }
    });
    gate.engine()?
        .grammar()
        .check_pending(&catalogue.origin, &mut scripts)
        .map_err(|e| Error::new(Exit::Usage, e))
}

/// Refuses the plan's certain failures ([`certain_failures`]), then lints the up files of
/// a forward plan before anything changes: refuses (exit 3) on an unwaived
/// `breaks-window`, and under `strict` on any unwaived finding; otherwise logs each as a
/// warning and returns how many there are.
pub(crate) fn plan(gate: &Gate, plan: &Plan) -> Result<usize, Error> {
    certain_failures(gate, plan)?;
    let strict = gate
        .settings
        .strict_lint
        .unwrap_or(gate.release.compat.lint.strict);
    if plan.direction != Direction::Up {
        return Ok(0);
    }
    let grammar = gate.engine()?.grammar();
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
        let findings = grammar
            .lint(&file, &gate.release.compat)
            .map_err(|error| Error::new(Exit::Usage, error))?;
        active.extend(findings.into_iter().filter(Finding::is_active));
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
