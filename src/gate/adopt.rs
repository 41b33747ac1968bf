//! `adopt --from TOOL`: taking over a database another tool migrated (see [`crate::adopt`]),
//! under the lock and after a backup, with an audit entry.

use super::builder::Gate;
use super::error::Error;
use super::event::Event;
use super::locked::release_lock;
use super::recipe::{self, Done, Prepared, Recipe};
use crate::adopt::{self, AdoptError, Mapped, Tool, ToolHistory};
use crate::engine::{Lock, Session};
use crate::fleet;

/// The gate's error for an adoption that cannot be done (its exit: [`AdoptError::exit`]).
fn failure(error: AdoptError) -> Error {
    Error::new(error.exit(), error)
}

impl Gate {
    /// `schemagate adopt --from TOOL [--dry-run]`: records the versions `tool` applied as
    /// this catalogue's history, printing the mapping. A dry run takes no lock: it shows
    /// the mapping and the verdicts the real run would meet, and exits with its code.
    pub async fn adopt(&self, tool: Tool) -> Result<(), Error> {
        if self.settings.dry_run {
            let client = self.connect().await?;
            let (_, mapped) = mapping(self, client.as_ref(), tool).await?;
            let newest = mapped.last().map_or(0, |m| m.version);
            let change = change_to(newest);
            return super::verdicts::preview_change(self, client.as_ref(), change, None).await;
        }
        let mut lock = self.acquire_lock().await?;
        let result = adopt_locked(self, lock.as_mut(), tool).await;
        release_lock(lock).await;
        result
    }
}

/// The tool's history mapped to the catalogue (refused when ours exists), told as an event.
async fn mapping(
    gate: &Gate,
    client: &dyn Session,
    tool: Tool,
) -> Result<(ToolHistory, Vec<Mapped>), Error> {
    let current = client.current_version().await?;
    if current > 0 {
        return Err(failure(AdoptError::HasHistory { current }));
    }
    let tool_history = client.tool_history(tool).await?;
    let mapped = adopt::map(&gate.release.catalogue, &tool_history).map_err(failure)?;
    gate.tell(Event::AdoptMapping {
        history: &tool_history,
        mapped: &mapped,
    });
    Ok((tool_history, mapped))
}

/// An adoption takes the schema from nothing recorded to the newest version adopted.
fn change_to(newest: i64) -> fleet::Change {
    fleet::Change {
        from: 0,
        to: newest,
    }
}

async fn adopt_locked<'l>(gate: &Gate, lock: &'l mut dyn Lock, tool: Tool) -> Result<(), Error> {
    let (tool_history, mapped) = mapping(gate, lock.session(), tool).await?;
    let newest = mapped.last().map_or(0, |m| m.version);
    let recipe = Recipe {
        action: "adopt",
        change: change_to(newest),
        backup_of: 0,
        admitted: None,
        plan: None,
        prune: true,
        one_transaction: false,
    };
    let act = |lock: &'l mut dyn Lock, prepared: Prepared| async move {
        let recorded = adopt::record(lock.session_mut(), &gate.release.catalogue, &mapped).await;
        let outcome = recorded.is_ok().then(|| {
            prepared.outcome(format!(
                "ok: adopted from {} ({}), {} migration(s)",
                tool_history.tool,
                tool_history.table,
                mapped.len()
            ))
        });
        let done = Done {
            result: recorded,
            to: newest,
            outcome,
        };
        (done, lock)
    };
    recipe::change(gate, lock, recipe, act).await?;
    gate.tell(Event::Adopted {
        tool: tool_history.tool,
        table: tool_history.table,
        version: newest,
    });
    Ok(())
}
