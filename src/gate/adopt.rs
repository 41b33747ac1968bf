//! `adopt --from TOOL`: taking over a database another tool migrated (see [`crate::adopt`]),
//! under the lock and after a backup, with an audit entry.

use std::time::Instant;

use super::backups;
use super::builder::Gate;
use super::error::{Error, Exit};
use super::event::Event;
use super::locked::{Change, primary_only, read_failed, record, release_lock};
use crate::adopt::{self, AdoptError, Tool};
use crate::lock::MigrationLock;
use crate::{fleet, history};

/// Refusals are exit 3, `--from` naming the other tool of `schema_migrations` exit 2, a
/// lost connection exit 4, anything else exit 1.
fn failure(error: AdoptError) -> Error {
    let exit = match &error {
        AdoptError::WrongTool { .. } => Exit::Usage,
        e if e.connection_lost() => Exit::Unreachable,
        e if e.is_refusal() => Exit::Refused,
        _ => Exit::Internal,
    };
    Error::new(exit, error)
}

impl Gate {
    /// `schemagate adopt --from TOOL [--dry-run]`: records the versions `tool` applied as
    /// this catalogue's history, printing the mapping.
    pub async fn adopt(&self, tool: Tool) -> Result<(), Error> {
        let mut lock = self.acquire_lock().await?;
        let result = adopt_locked(self, &mut lock, tool).await;
        release_lock(lock).await;
        result
    }
}

async fn adopt_locked(gate: &Gate, lock: &mut MigrationLock, tool: Tool) -> Result<(), Error> {
    let current = history::current_version(lock.connection())
        .await
        .map_err(read_failed)?;
    if current > 0 {
        return Err(failure(AdoptError::HasHistory { current }));
    }
    let tool_history = adopt::read(lock.connection(), tool)
        .await
        .map_err(failure)?;
    let mapped = adopt::map(&gate.release.catalogue, &tool_history).map_err(failure)?;
    gate.tell(Event::AdoptMapping {
        history: &tool_history,
        mapped: &mapped,
    });
    if gate.settings.dry_run {
        gate.tell(Event::NothingChanged);
        return Ok(());
    }
    let newest = mapped.last().map_or(0, |m| m.version);
    let change = fleet::Change {
        from: 0,
        to: newest,
    };
    let (_, verdict) = gate.admission(lock.connection(), change).await?;
    primary_only(lock.connection()).await?;
    super::session::session_only(gate, lock).await?;
    let backup = backups::backup_before_change(gate, lock, 0).await?;
    let started = Instant::now();
    adopt::record(lock.client(), &gate.release.catalogue, &mapped)
        .await
        .map_err(failure)?;
    let entry = Change {
        action: "adopt",
        from: 0,
        to: newest,
        started,
        backup_file: backup.map(|b| b.path.display().to_string()),
        outcome: verdict.outcome(format!(
            "ok: adopted from {} ({}), {} migration(s)",
            tool_history.tool,
            tool_history.table,
            mapped.len()
        )),
    }
    .entry(gate);
    record(lock.connection(), &entry).await;
    gate.tell(Event::Adopted {
        tool: tool_history.tool,
        table: tool_history.table,
        version: newest,
    });
    Ok(())
}
