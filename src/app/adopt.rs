//! `adopt --from TOOL`: taking over a database another tool migrated (see [`crate::adopt`]),
//! under the lock and after a backup, with an audit entry.

use super::*;
use crate::adopt::{self, AdoptError};
use crate::cli::AdoptArgs;

/// Refusals are exit 3, `--from` naming the other tool of `schema_migrations` exit 2, a
/// lost connection exit 4, anything else exit 1.
fn failure(error: AdoptError) -> Failure {
    let exit = match &error {
        AdoptError::WrongTool { .. } => Exit::Usage,
        e if e.connection_lost() => Exit::Unreachable,
        e if e.is_refusal() => Exit::Refused,
        _ => Exit::Internal,
    };
    Failure::new(exit, error)
}

/// `schemagate adopt --from TOOL [--dry-run]`.
pub(super) async fn adopt(
    release: &Release,
    gate_args: &GateArgs,
    backup_args: &BackupArgs,
    args: &AdoptArgs,
) -> Result<(), Failure> {
    let mut lock = acquire_lock(release, gate_args).await?;
    let result = adopt_locked(release, &mut lock, gate_args.dry_run, backup_args, args).await;
    release_lock(lock).await;
    result
}

async fn adopt_locked(
    release: &Release,
    lock: &mut MigrationLock,
    dry_run: bool,
    backup_args: &BackupArgs,
    args: &AdoptArgs,
) -> Result<(), Failure> {
    let current = history::current_version(lock.connection())
        .await
        .map_err(read_failed)?;
    if current > 0 {
        return Err(failure(AdoptError::HasHistory { current }));
    }
    let tool_history = adopt::read(lock.connection(), args.from)
        .await
        .map_err(failure)?;
    let mapped = adopt::map(&release.catalogue, &tool_history).map_err(failure)?;
    output::adopt_mapping(&tool_history, &mapped);
    if dry_run {
        output::nothing_changed();
        return Ok(());
    }
    primary_only(lock.connection()).await?;
    let backup = backups::backup_before_change(release, backup_args, lock, 0).await?;
    let started = Instant::now();
    adopt::record(lock.client(), &release.catalogue, &mapped)
        .await
        .map_err(failure)?;
    let newest = mapped.last().map_or(0, |m| m.version);
    let entry = Change {
        action: "adopt",
        from: 0,
        to: newest,
        started,
        backup_file: backup.map(|b| b.path.display().to_string()),
        outcome: format!(
            "ok: adopted from {} ({}), {} migration(s)",
            tool_history.tool,
            tool_history.table,
            mapped.len()
        ),
    }
    .entry(release);
    record(lock.connection(), &entry).await;
    output::adopted(tool_history.tool, tool_history.table, newest);
    Ok(())
}
