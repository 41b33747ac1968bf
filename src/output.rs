//! What commands print on stdout, apart from the logs on stderr: plans, verdicts and the
//! status table, stable enough for scripts, with `--json` where a machine reads them.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::app::GateReport;
use crate::audit::Recorded;
use crate::catalogue::Catalogue;
use crate::config::Compat;
use crate::history::Applied;
use crate::plan::{Direction, Plan};

/// Prints a plan: where the schema is, where it goes, and every step.
pub fn plan(plan: &Plan, compat: &Compat) {
    let window = &compat.window;
    println!(
        "schema {} -> {} (release v{}, window [{}, {}], target {}): {} step(s)",
        plan.current,
        plan.target,
        compat.app_version,
        window.min,
        window.max,
        window.target,
        plan.steps.len()
    );
    let verb = match plan.direction {
        Direction::Up => "up",
        Direction::Down => "down",
    };
    for step in &plan.steps {
        let mode = if step.transactional {
            "in a transaction"
        } else {
            "NO transaction"
        };
        println!(
            "  {verb} {:>6}  {:<32} {}  ({mode})",
            step.version, step.name, step.file
        );
    }
}

/// Prints the outcome of a gate run (or its plan, on a dry run).
pub fn gate_done(report: &GateReport, compat: &Compat, dry_run: bool) {
    if dry_run {
        plan(&report.plan, compat);
        println!("dry run: nothing was changed");
        return;
    }
    let took: std::time::Duration = report.durations.iter().map(|(_, d)| *d).sum();
    println!(
        "schema at {} (window [{}, {}]); {} migration(s) applied in {took:?}",
        report.plan.target,
        compat.window.min,
        compat.window.max,
        report.durations.len()
    );
}

/// Prints the verdict of `check`.
pub fn check_ok(current: i32, compat: &Compat) {
    println!(
        "ok: schema {current} is inside the window [{}, {}] of release v{}",
        compat.window.min, compat.window.max, compat.app_version
    );
}

/// Prints the release, its window and its catalogue.
pub fn version(compat: &Compat, catalogue: &Catalogue) {
    println!("schemagate {}", env!("CARGO_PKG_VERSION"));
    println!("release v{} (from {})", compat.app_version, compat.origin);
    println!(
        "window [{}, {}], target {}",
        compat.window.min, compat.window.max, compat.window.target
    );
    let versions = catalogue.migrations();
    match (versions.first(), versions.last()) {
        (Some(first), Some(last)) => println!(
            "catalogue {}: {} migration(s), versions {}..={}",
            catalogue.origin,
            versions.len(),
            first.version,
            last.version
        ),
        _ => println!("catalogue {}: empty", catalogue.origin),
    }
}

/// One version's state in `status`.
#[derive(Debug, Serialize)]
struct Row<'a> {
    version: i32,
    name: &'a str,
    state: &'static str,
    applied_on: Option<&'a str>,
    file: Option<&'a str>,
}

/// `status` output as JSON.
#[derive(Debug, Serialize)]
struct Status<'a> {
    app_version: String,
    current: i32,
    min: i32,
    max: i32,
    target: i32,
    compatible: bool,
    migrations: Vec<Row<'a>>,
    recent_changes: &'a [Recorded],
}

/// Prints catalogue against history: applied, pending, drifted, unknown.
pub fn status(
    catalogue: &Catalogue,
    applied: &[Applied],
    recent: &[Recorded],
    compat: &Compat,
    json: bool,
) -> serde_json::Result<()> {
    let mut rows: BTreeMap<i32, Row> = catalogue
        .migrations()
        .iter()
        .map(|m| {
            let row = Row {
                version: m.version,
                name: &m.name,
                state: "pending",
                applied_on: None,
                file: Some(&m.up.file),
            };
            (m.version, row)
        })
        .collect();
    for a in applied {
        let row = rows.entry(a.version).or_insert(Row {
            version: a.version,
            name: &a.name,
            state: "unknown",
            applied_on: None,
            file: None,
        });
        row.applied_on = Some(&a.applied_on);
        if row.state == "pending" {
            let same = catalogue
                .get(a.version)
                .is_some_and(|m| Some(m.checksum) == a.checksum);
            row.state = if same { "applied" } else { "drifted" };
        }
    }
    let current = crate::plan::current_version(applied);
    let window = compat.window;
    let status = Status {
        app_version: format!("v{}", compat.app_version),
        current,
        min: window.min,
        max: window.max,
        target: window.target,
        compatible: window.contains(current),
        migrations: rows.into_values().collect(),
        recent_changes: recent,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(());
    }
    println!(
        "release {}: schema {} (window [{}, {}], {})",
        status.app_version,
        current,
        window.min,
        window.max,
        if status.compatible {
            "compatible"
        } else {
            "INCOMPATIBLE"
        }
    );
    for row in &status.migrations {
        println!(
            "  {:>6}  {:<8} {:<32} {}",
            row.version,
            row.state,
            row.name,
            row.applied_on.unwrap_or("-")
        );
    }
    if !recent.is_empty() {
        println!("recent changes:");
    }
    for change in recent {
        println!(
            "  {}  {:<8} {} -> {}  {} on {}  {} ms  backup {}  {}",
            change.at,
            change.action,
            change.from,
            change.to,
            change.app_version,
            change.host,
            change.duration_ms,
            change.backup_file.as_deref().unwrap_or("-"),
            change.outcome
        );
    }
    Ok(())
}
