//! The events the library's commands tell as they work ([`Event`]), printed: a rollback's
//! plan and its backup, a restore's plan, a baseline's or an adoption's mapping, each
//! migration `verify` proves, and what each did.

use std::path::Path;

use schemagate::adopt::{Mapped, ToolHistory};
use schemagate::backup::{Backup, Preview, RestorePlan};
use schemagate::gate::Event;

use super::{listed, nothing_changed, plan};

/// Prints what a command tells as it works.
pub fn event(event: &Event<'_>) {
    match *event {
        Event::Plan {
            plan: steps,
            compat,
            limits,
        } => plan(steps, compat, limits),
        Event::BackupIntent {
            skip,
            dir,
            schema_version,
        } => backup_intent(skip, dir, schema_version),
        Event::NothingChanged => nothing_changed(),
        Event::NothingToDo(why) => println!("nothing to do: {why}"),
        Event::RolledBack { from, to, took } => {
            println!("rolled back: schema {from} -> {to} in {took:?}")
        }
        Event::BackupPreview(preview) => backup_preview(preview),
        Event::BackupTaken(backup) => backup_taken(backup),
        Event::RestorePlan(plan) => restore_plan(plan),
        Event::Restored { plan, version } => println!(
            "restored {} into {}: the history now says schema {version}",
            plan.backup.path.display(),
            plan.database
        ),
        Event::BaselineIntent {
            migrations,
            version,
            verified,
        } => println!(
            "baseline: record {migrations} migration(s) up to version {version} as applied{}",
            if verified { " (verified)" } else { "" }
        ),
        Event::BaselineRecorded(version) => {
            println!("baseline recorded: the database is at schema version {version}")
        }
        Event::AdoptMapping { history, mapped } => adopt_mapping(history, mapped),
        Event::Adopted {
            tool,
            table,
            version,
        } => println!(
            "adopted from {tool}: the database is at schema version {version}; {table} was left as it was"
        ),
        Event::Verified(line) => println!("{line}"),
    }
}

/// Prints the backup a change will take first (or that `--no-backup` skips it).
fn backup_intent(skip: bool, dir: &Path, schema_version: i64) {
    if skip {
        println!("backup: NONE (--no-backup): nothing but your own backups can undo this");
    } else {
        println!(
            "backup: a verified pg_dump of schema {schema_version} into {} before the first step",
            dir.display()
        );
    }
}

/// Prints a backup just taken.
fn backup_taken(backup: &Backup) {
    let m = &backup.manifest;
    println!(
        "backup {} (schema {}, {} bytes, sha256 {}, {:.1}s)",
        backup.path.display(),
        m.schema_version,
        m.size_bytes,
        m.sha256,
        m.duration_seconds
    );
}

/// Prints what a restore does.
fn restore_plan(plan: &RestorePlan) {
    let m = &plan.backup.manifest;
    println!(
        "restore {} (database {}, schema {}, taken {} by {}; sha256 verified)",
        plan.backup.path.display(),
        m.database,
        m.schema_version,
        m.created_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        m.release()
    );
    println!(
        "into database {}, in one transaction: drop schema(s) {} with everything in them, recreate public, replay the dump ({} entries, about {} locks)",
        plan.database,
        listed(&plan.schemas),
        plan.list.lines().filter(|l| !l.starts_with(';')).count(),
        plan.locks_needed,
    );
    for (schema, reason) in &plan.kept {
        println!("  keep schema {schema} as it is ({reason}); its entries are not replayed");
    }
    if !plan.globals.is_empty() {
        println!(
            "  outside schemas, a restore cannot make exact: {}",
            plan.globals.join(", ")
        );
    }
}

/// Prints the mapping of `adopt`: each of the tool's versions and the catalogue file it
/// becomes, with what was checked, and what is not adopted.
fn adopt_mapping(tool_history: &ToolHistory, mapped: &[Mapped]) {
    println!(
        "adopt --from {}: {} → {}, {} migration(s):",
        tool_history.tool,
        tool_history.table,
        schemagate::history::TABLE,
        mapped.len()
    );
    for m in mapped {
        let checked = m
            .checked
            .map(|c| format!(" ({c} checksum matches)"))
            .unwrap_or_default();
        println!("  {} → {}{checked}", m.tool, m.file);
    }
    for skipped in &tool_history.skipped {
        println!("  not adopted: {skipped}");
    }
}

/// Prints what `backup --dry-run` would do.
fn backup_preview(preview: &Preview) {
    println!(
        "would write {} with {} ({})",
        preview.path.display(),
        preview.pg_dump.path.display(),
        preview.pg_dump.version
    );
    let pruned: Vec<String> = preview
        .prune
        .iter()
        .map(|b| b.path.display().to_string())
        .collect();
    println!("would then remove (retention): {}", listed(&pruned));
    nothing_changed();
}
