//! The events the library's commands tell as they work ([`Event`]), printed: a rollback's
//! plan and its backup, a restore's plan, a baseline's or an adoption's mapping, each
//! migration `verify` proves, and what each did.

use std::path::Path;

use schemagate::adopt::{Mapped, ToolHistory};
use schemagate::backup::{Backup, Preview, RestorePlan};
use schemagate::gate::Event;

use super::{admission, listed, nothing_changed, plan, stranded};

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
            kind,
            dir,
            schema_version,
        } => backup_intent(skip, kind, dir, schema_version),
        Event::NothingChanged => nothing_changed(),
        Event::Admission { fleet, verdict } => admission(fleet, verdict),
        Event::Stranded {
            steps,
            atomic_possible,
        } => stranded(steps, atomic_possible),
        Event::Refused(error) => say!(
            "refused (exit {}): {}",
            error.exit().code(),
            schemagate::gate::chain(error)
        ),
        Event::Drift(verdict) => say!("schema drift: {verdict}"),
        Event::NothingToDo(why) => say!("nothing to do: {why}"),
        Event::RolledBack { from, to, took } => {
            say!("rolled back: schema {from} -> {to} in {took:?}")
        }
        Event::BackupPreview(preview) => backup_preview(preview),
        Event::BackupTaken(backup) => backup_taken(backup),
        Event::RestorePlan(plan) => restore_plan(plan),
        Event::Restored { plan, version } => say!(
            "restored {} into {}: the history now says schema {version}",
            plan.backup.path.display(),
            plan.database
        ),
        Event::BaselineIntent {
            migrations,
            version,
            verified,
        } => say!(
            "baseline: record {migrations} migration(s) up to version {version} as applied{}",
            if verified { " (verified)" } else { "" }
        ),
        Event::BaselineRecorded(version) => {
            say!("baseline recorded: the database is at schema version {version}")
        }
        Event::AdoptMapping { history, mapped } => adopt_mapping(history, mapped),
        Event::Adopted {
            tool,
            table,
            version,
        } => say!(
            "adopted from {tool}: the database is at schema version {version}; {table} was left as it was"
        ),
        Event::Verified(line) => say!("{line}"),
    }
}

/// Prints the backup a change will take first (or that `--no-backup` skips it).
fn backup_intent(skip: bool, kind: &str, dir: &Path, schema_version: i64) {
    if skip {
        say!("backup: NONE (--no-backup): nothing but your own backups can undo this");
    } else {
        say!(
            "backup: a verified {kind} of schema {schema_version} into {} before the first step",
            dir.display()
        );
    }
}

/// Prints a backup just taken.
fn backup_taken(backup: &Backup) {
    let m = &backup.manifest;
    say!(
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
    say!(
        "restore {} (database {}, schema {}, taken {} by {}; sha256 verified)",
        plan.backup.path.display(),
        m.database,
        m.schema_version,
        m.created_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        m.release()
    );
    if m.engine == "sqlite" {
        say!(
            "over {} with SQLite's online backup API, under the migration lock (connections the application holds see the restored file whole); the audit trail written since the backup is kept",
            plan.database
        );
        return;
    }
    if m.engine == "mysql" {
        say!(
            "into database {}, not in one transaction (each DDL statement commits by itself; until the load finishes, every run refuses the database as part-restored): drop {}, load the dump with the server's own client",
            plan.database,
            listed(&plan.schemas),
        );
        for (table, reason) in &plan.kept {
            say!("  keep table {table} as it is ({reason})");
        }
        return;
    }
    say!(
        "into database {}, in one transaction: drop schema(s) {} with everything in them, recreate public, replay the dump ({} entries, about {} locks)",
        plan.database,
        listed(&plan.schemas),
        plan.list.lines().filter(|l| !l.starts_with(';')).count(),
        plan.locks_needed,
    );
    for (schema, reason) in &plan.kept {
        say!("  keep schema {schema} as it is ({reason}); its entries are not replayed");
    }
    if !plan.globals.is_empty() {
        say!(
            "  outside schemas, a restore cannot make exact: {}",
            plan.globals.join(", ")
        );
    }
}

/// Prints the mapping of `adopt`: each of the tool's versions and the catalogue file it
/// becomes, with what was checked, and what is not adopted.
fn adopt_mapping(tool_history: &ToolHistory, mapped: &[Mapped]) {
    say!(
        "adopt --from {}: {} → {}, {} migration(s):",
        tool_history.tool,
        tool_history.table,
        schemagate::applied::HISTORY_TABLE,
        mapped.len()
    );
    for m in mapped {
        let checked = m
            .checked
            .map(|c| format!(" ({c} checksum matches)"))
            .unwrap_or_default();
        say!("  {} → {}{checked}", m.tool, m.file);
    }
    for skipped in &tool_history.skipped {
        say!("  not adopted: {skipped}");
    }
}

/// Prints what `backup --dry-run` would do.
fn backup_preview(preview: &Preview) {
    say!(
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
    say!("would then remove (retention): {}", listed(&pruned));
    nothing_changed();
}
