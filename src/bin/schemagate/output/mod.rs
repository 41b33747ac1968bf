//! What commands print on stdout, apart from the logs on stderr: plans, verdicts and the
//! status table, stable enough for scripts, with `--json` where a machine reads them. The
//! only module that prints: the library returns what it found (printed here) and tells the
//! rest as events ([`event`]).

/// Prints a line on stdout, as `println!` does, but through [`write_out`]: a reader that
/// went away is not a failure of the command.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod event;

pub use event::event;

use std::collections::BTreeMap;

use serde::Serialize;

use schemagate::Compat;
use schemagate::audit::Recorded;
use schemagate::backup::Backup;
use schemagate::catalogue::Catalogue;
use schemagate::gate::{Repaired, Report};
use schemagate::limits::Limits;
use schemagate::plan::{Direction, Plan};

/// Prints what `repair` recorded, or with `--dry-run` would record.
pub fn repaired(repaired: &Repaired) {
    let word = if repaired.applied {
        "applied"
    } else {
        "reverted"
    };
    if repaired.dry_run {
        say!(
            "would record version {} as {word}; it is: {}; nothing changed (dry run)",
            repaired.version,
            repaired.was
        );
    } else {
        say!("repaired: version {} recorded as {word}", repaired.version);
    }
}

/// Prints a plan: where the schema is, where it goes, every step, and the DDL limits each
/// runs with.
fn plan(plan: &Plan, compat: &Compat, limits: Limits) {
    let window = &compat.window;
    let (verb, goal) = match plan.direction {
        Direction::Up => ("up", format!("migrate to target {}", window.target)),
        Direction::Down => ("down", format!("roll back to {}", plan.target)),
    };
    say!(
        "schema {} -> {} ({goal}; release {}, window [{}, {}]): {} step(s)",
        plan.current,
        plan.target,
        compat.tag(),
        window.min,
        window.max,
        plan.steps.len()
    );
    for step in &plan.steps {
        let mode = if step.transactional {
            "in a transaction"
        } else {
            "NO transaction"
        };
        say!(
            "  {verb} {:>6}  {:<32} {}  ({mode}; {})",
            step.version,
            step.name,
            step.file,
            limits.for_file(step.timeouts).describe()
        );
    }
    if !plan.steps.is_empty() {
        say!(
            "a step that gives up waiting for a lock is rolled back and run again, up to {} time(s)",
            limits.retries
        );
    }
}

/// Prints the outcome of a gate run; a dry run told its plan and verdicts as it went.
pub fn gate_done(report: &Report, compat: &Compat) {
    if report.dry_run {
        return;
    }
    if let Some(target) = report.deferred {
        say!(
            "schema at {} (inside the window [{}, {}]); migrating to {target} in the background once the fleet admits it: {}",
            report.plan.target,
            compat.window.min,
            compat.window.max,
            report.admission
        );
        return;
    }
    let took: std::time::Duration = report.durations.iter().map(|(_, d)| *d).sum();
    say!(
        "schema at {} (window [{}, {}]); {} migration(s) applied in {took:?}",
        report.plan.target,
        compat.window.min,
        compat.window.max,
        report.durations.len()
    );
    if let Some(backup) = &report.backup {
        say!(
            "backup before the change: {} ({} bytes)",
            backup.path.display(),
            backup.manifest.size_bytes
        );
    }
}

/// Prints the live replicas of every release.
fn fleet(groups: &[schemagate::fleet::Group]) {
    if groups.is_empty() {
        say!("fleet: no live replicas recorded");
    }
    for group in groups {
        say!("fleet: {group}");
    }
}

/// Prints the verdict of `check`.
pub fn check_ok(current: i64, compat: &Compat) {
    say!(
        "ok: schema {current} is inside the window [{}, {}] of release v{}",
        compat.window.min,
        compat.window.max,
        compat.app_version
    );
}

/// Prints `check`'s drift line.
pub fn drift_line(diff: &schemagate::gate::Diff) {
    say!("schema drift: {}", diff.summary());
}

/// Prints `diff`: the record and every missing, extra and changed object, or as JSON.
pub fn diff(diff: &schemagate::gate::Diff, json: bool) -> serde_json::Result<()> {
    if json {
        say!("{}", serde_json::to_string_pretty(diff)?);
    } else {
        write_out(format_args!("{}", diff.text()));
    }
    Ok(())
}

/// Prints the lint's rendered findings.
pub fn lint(rendered: &str) {
    write_out(format_args!("{rendered}"));
}

/// Writes to stdout. When the reader has gone (`status --json | head -1`, a closed pipe)
/// the rest of the output is dropped quietly and the command ends with its own exit code,
/// as `git log | head -1` does; `println!` would panic (exit 101). Any other write error
/// is logged.
pub fn write_out(text: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let written = std::io::stdout().lock().write_fmt(text);
    match written {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            tracing::warn!(%error, "cannot write to stdout");
        }
        _ => {}
    }
}

/// Prints the files `new` wrote, one path a line.
pub fn created(paths: &[&std::path::Path]) {
    for path in paths {
        println!("{}", path.display());
    }
}

/// Prints the release, its window and its catalogue.
pub fn version(compat: &Compat, catalogue: &Catalogue) {
    say!("schemagate {}", env!("CARGO_PKG_VERSION"));
    say!("release v{} (from {})", compat.app_version, compat.origin);
    say!(
        "window [{}, {}], target {}",
        compat.window.min,
        compat.window.max,
        compat.window.target
    );
    let versions = catalogue.migrations();
    match (versions.first(), versions.last()) {
        (Some(first), Some(last)) => say!(
            "catalogue {}: {} migration(s), versions {}..={}",
            catalogue.origin,
            versions.len(),
            first.version,
            last.version
        ),
        _ => say!("catalogue {}: empty", catalogue.origin),
    }
}

/// One version's state in `status`.
#[derive(Debug, Serialize)]
struct Row<'a> {
    version: i64,
    name: &'a str,
    state: &'static str,
    applied_on: Option<&'a str>,
    file: Option<&'a str>,
}

/// `status` output as JSON.
#[derive(Debug, Serialize)]
struct Status<'a> {
    app_version: String,
    current: i64,
    min: i64,
    max: i64,
    target: i64,
    compatible: bool,
    refusal: Option<&'a str>,
    migrations: Vec<Row<'a>>,
    recent_changes: &'a [Recorded],
    fleet: &'a [schemagate::fleet::Group],
    schema_drift: &'a schemagate::gate::Diff,
}

/// Prints catalogue against history (applied, pending, drifted, unknown), the gate's
/// verdict, the live schema's drift, the recent changes and the live fleet.
pub fn status(
    catalogue: &Catalogue,
    found: &schemagate::gate::Status,
    compat: &Compat,
    json: bool,
) -> serde_json::Result<()> {
    let (applied, recent, live) = (&found.applied, &found.recent, &found.fleet);
    let mut rows: BTreeMap<i64, Row> = catalogue
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
    let current = schemagate::plan::highest_applied(applied);
    let window = compat.window;
    let status = Status {
        app_version: format!("v{}", compat.app_version),
        current,
        min: window.min,
        max: window.max,
        target: window.target,
        compatible: found.refusal.is_none(),
        refusal: found.refusal.as_deref(),
        migrations: rows.into_values().collect(),
        recent_changes: recent,
        fleet: live,
        schema_drift: &found.drift,
    };
    if json {
        say!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(());
    }
    say!(
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
    if let Some(refusal) = status.refusal {
        say!("refused (the gate exits 3): {refusal}");
    }
    say!("schema drift: {}", found.drift.summary());
    for row in &status.migrations {
        say!(
            "  {:>6}  {:<8} {:<32} {}",
            row.version,
            row.state,
            row.name,
            row.applied_on.unwrap_or("-")
        );
    }
    if !recent.is_empty() {
        say!("recent changes:");
    }
    for change in recent {
        say!(
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
    fleet(live);
    Ok(())
}

/// One backup in `backups --json`: the manifest plus where it is and how old.
#[derive(Debug, Serialize)]
struct Listed<'a> {
    path: String,
    age_seconds: u64,
    #[serde(flatten)]
    manifest: &'a schemagate::backup::Manifest,
}

/// Prints the backups, newest first: file, schema version, app version, age, size.
pub fn backups(backups: &[Backup], json: bool) -> serde_json::Result<()> {
    let now = time::OffsetDateTime::now_utc();
    if json {
        let listed: Vec<Listed> = backups
            .iter()
            .map(|b| Listed {
                path: b.path.display().to_string(),
                age_seconds: b.age(now).as_secs(),
                manifest: &b.manifest,
            })
            .collect();
        say!("{}", serde_json::to_string_pretty(&listed)?);
        return Ok(());
    }
    if backups.is_empty() {
        say!("no backups");
        return Ok(());
    }
    say!(
        "{:<48} {:>6} {:>10} {:>10} {:>12}",
        "file",
        "schema",
        "release",
        "age",
        "size"
    );
    for b in backups {
        let age = std::time::Duration::from_secs(b.age(now).as_secs());
        say!(
            "{:<48} {:>6} {:>10} {:>10} {:>12}",
            b.manifest.file,
            b.manifest.schema_version,
            b.manifest.release(),
            humantime::format_duration(age).to_string(),
            b.manifest.size_bytes
        );
    }
    Ok(())
}

/// Names joined with commas, `(none)` when there are none.
fn listed(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".to_owned()
    } else {
        names.join(", ")
    }
}

/// Says that a dry run changed nothing.
fn nothing_changed() {
    say!(
        "dry run: nothing was changed (no lock taken: the history was read as it is now, and a run under way elsewhere may change it)"
    );
}

/// Prints the fleet and its verdict on the change.
fn admission(groups: &[schemagate::fleet::Group], verdict: &str) {
    fleet(groups);
    say!("admission: {verdict}");
}

/// Prints the steps whose failure would strand the schema (the first few, then how many
/// more), and the remedy.
fn stranded(steps: &[schemagate::plan::Stranded], atomic_possible: bool) {
    const SHOWN: usize = 3;
    for step in steps.iter().take(SHOWN) {
        say!("WARNING: {step}");
    }
    if steps.len() > SHOWN {
        say!(
            "WARNING: and {} more step(s) whose failure would strand the schema",
            steps.len() - SHOWN
        );
    }
    if atomic_possible {
        say!(
            "  remedy: --atomic (or [apply] atomic = true in compat.toml) applies the whole plan in one transaction: all or nothing"
        );
    } else {
        say!(
            "  remedy: ship the change in two releases (--atomic cannot help: a step runs outside a transaction)"
        );
    }
}
