//! `schemagate lint`, and the gate's lint of the migrations it is about to apply
//! (DESIGN §12): `breaks-window` always refuses, other findings refuse only in strict mode
//! and are otherwise warnings.

use super::{Exit, ExitWith, Failure, Release, load_compat};
use crate::catalogue;
use crate::cli::{GateArgs, LintArgs, LintFormat, LintMode};
use crate::config::Compat;
use crate::lint::{self, BREAKS_WINDOW, Finding, Format, LintError, LintFile};
use crate::plan::{Direction, Plan};

/// `lint [PATHS…]`: exit 0 clean, 3 on an unwaived finding, 2 on unreadable input.
pub fn command(gate: &GateArgs, args: &LintArgs) -> Result<(), Failure> {
    let compat = load_compat(gate)?;
    let files = if args.paths.is_empty() {
        let catalogue = match &gate.migrations_dir {
            Some(dir) => catalogue::from_dir(dir),
            None => catalogue::embedded(),
        }
        .exit(Exit::Usage)?;
        LintFile::from_catalogue(&catalogue)
    } else {
        LintFile::from_paths(&args.paths).exit(Exit::Usage)?
    };
    let findings = lint::lint(&files, &compat).exit(Exit::Usage)?;
    let format = match args.format {
        LintFormat::Text => Format::Text,
        LintFormat::Json => Format::Json,
        LintFormat::Github => Format::Github,
    };
    print!("{}", lint::render(&findings, format));
    let active = findings.iter().filter(|f| f.is_active()).count();
    if active == 0 {
        tracing::info!(files = files.len(), "lint: no findings");
        Ok(())
    } else {
        Err(Failure::new(
            Exit::Refused,
            anyhow::anyhow!("lint: {active} finding(s) in {} file(s)", files.len()),
        ))
    }
}

/// Whether the gate refuses every unwaived finding: `--lint`, else `[lint] strict`.
pub fn strict(gate: &GateArgs, compat: &Compat) -> bool {
    match gate.lint {
        Some(mode) => mode == LintMode::Strict,
        None => compat.lint.strict,
    }
}

/// Lints the up files of a forward plan before anything changes: refuses (exit 3) on an
/// unwaived `breaks-window`, and under `strict` on any unwaived finding; otherwise logs
/// each as a warning and returns how many there are. A file PostgreSQL's grammar refuses
/// (transactional files are not parsed at load) is left to the server, with a warning.
pub fn plan(release: &Release, plan: &Plan, strict: bool) -> Result<usize, Failure> {
    if plan.direction != Direction::Up {
        return Ok(0);
    }
    let mut active: Vec<Finding> = Vec::new();
    for step in &plan.steps {
        let Some(migration) = release.catalogue.get(step.version) else {
            continue;
        };
        let file = LintFile {
            file: migration.up.file.clone(),
            sql: migration.up.sql.clone(),
            transactional: migration.up.transactional,
            version: Some(migration.version),
        };
        match lint::lint_file(&file, &release.compat) {
            Ok(findings) => active.extend(findings.into_iter().filter(Finding::is_active)),
            Err(error @ LintError::Syntax { .. }) => {
                tracing::warn!(%error, "not linted: PostgreSQL's grammar refuses the file; the server will say where when it runs");
            }
            Err(error) => return Err(Failure::new(Exit::Internal, error)),
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
        return Err(Failure::new(
            Exit::Refused,
            anyhow::anyhow!(
                "the lint refuses the plan before any change ({why}); nothing was changed:\n{}\nwaive a finding in its file with `-- schemagate:allow RULE reason` once checked (docs/lint.md)",
                list.join("\n")
            ),
        ));
    }
    for finding in &active {
        tracing::warn!(file = %finding.file, line = finding.line, column = finding.column, rule = finding.rule, safe = finding.safe, "lint: {}", finding.message);
    }
    Ok(active.len())
}
