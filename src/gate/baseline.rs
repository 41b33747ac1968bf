//! `baseline` and `[adopt]`: taking over a database that has tables but no history
//! (see [`crate::baseline`]), as a command and as the gate's first step.

use std::time::Instant;

use super::builder::{Gate, stopped};
use super::error::{Error, Exit};
use super::event::Event;
use super::locked::{Change, record, release_lock};
use super::recipe::{self, Done, Prepared, Recipe};
use crate::adopt::Tool;
use crate::applied::Applied;
use crate::backup;
use crate::baseline::{self as adopt, BaselineError};
use crate::engine::{Lock, Session};
use crate::fleet;

/// The gate's error for a baseline that cannot be done.
fn failure(error: BaselineError) -> Error {
    error.into()
}

impl Gate {
    /// `schemagate baseline --version N [--verify] [--dry-run]`: records the catalogue's
    /// migrations up to `version` as applied, after a backup, proving it first on a
    /// scratch database with `verify`.
    pub async fn baseline(&self, version: i64, verify: bool) -> Result<(), Error> {
        adopt::check_version(&self.release.catalogue, version).map_err(failure)?;
        if self.settings.dry_run {
            // No lock: what it would record, and the verdicts the real run would meet.
            let client = self.connect().await?;
            intent(self, client.as_ref(), version, verify).await?;
            let change = fleet::Change {
                from: 0,
                to: version,
            };
            return super::verdicts::preview_change(self, client.as_ref(), change, None).await;
        }
        let mut lock = self.acquire_lock().await?;
        let result = baseline_locked(self, lock.as_mut(), version, verify).await;
        release_lock(lock).await;
        result
    }
}

async fn baseline_locked<'l>(
    gate: &Gate,
    lock: &'l mut dyn Lock,
    version: i64,
    prove: bool,
) -> Result<(), Error> {
    intent(gate, lock.session(), version, prove).await?;
    let recipe = Recipe {
        action: "baseline",
        change: fleet::Change {
            from: 0,
            to: version,
        },
        backup_of: 0,
        admitted: None,
        plan: None,
        prune: true,
        one_transaction: false,
    };
    let act = |lock: &'l mut dyn Lock, prepared: Prepared| async move {
        let recorded = adopt::record(lock.session_mut(), &gate.release.catalogue, version).await;
        let outcome = recorded.is_ok().then(|| prepared.outcome("ok".to_owned()));
        let done = Done {
            result: recorded.map(drop),
            to: version,
            outcome,
        };
        (done, lock)
    };
    recipe::change(gate, lock, recipe, act).await?;
    gate.tell(Event::BaselineRecorded(version));
    Ok(())
}

/// Refuses a database that has a history, proves the version first with `prove`, and
/// tells what the baseline records.
async fn intent(gate: &Gate, client: &dyn Session, version: i64, prove: bool) -> Result<(), Error> {
    let current = client.current_version().await?;
    if current > 0 {
        return Err(failure(BaselineError::HasHistory { current }));
    }
    if prove {
        verify(gate, client, version).await?;
    }
    gate.tell(Event::BaselineIntent {
        migrations: adopt::rows(&gate.release.catalogue, version).len(),
        version,
        verified: prove,
    });
    Ok(())
}

/// The gate run's adoption of a database without a history (`[adopt] baseline`): records
/// the baseline and its own audit entry, inside the run's act (after its backup); `note`
/// says why it ran although the fleet refused it.
pub(crate) async fn record_baseline(
    gate: &Gate,
    lock: &mut dyn Lock,
    version: i64,
    backup: Option<&backup::Backup>,
    note: Option<&str>,
) -> Result<(), Error> {
    let started = Instant::now();
    adopt::record(lock.session_mut(), &gate.release.catalogue, version).await?;
    let entry = Change {
        action: "baseline",
        from: 0,
        to: version,
        started,
        backup_file: backup.map(|b| b.path.display().to_string()),
        outcome: match note {
            Some(note) => format!("ok; {note}"),
            None => "ok".to_owned(),
        },
    }
    .entry(gate);
    record(lock.session(), &entry).await;
    Ok(())
}

/// `--verify`: a scratch database migrated to `version` must have the same schema. The
/// scratch database is dropped on every path, a stop (exit 8) included.
async fn verify(gate: &Gate, live: &dyn Session, version: i64) -> Result<(), Error> {
    let mut scratch = gate.engine()?.scratch().await?;
    tracing::info!(database = %scratch.name(), version, "verifying the baseline on a scratch database");
    let work = adopt::verify(
        live,
        scratch.session_mut(),
        &gate.release.catalogue,
        version,
    );
    let result = tokio::select! {
        verified = work => verified,
        signal = gate.stop.wait() => Err(stopped(signal, "while verifying the baseline", Some(0))),
    };
    scratch.remove().await;
    result
}

/// The gate's first step on a database without a history (on the lock's session, or a
/// dry run's): `None` when it is empty (fresh) or has a history; the baseline version when
/// `[adopt] baseline` takes it over (verified first if asked); a refusal (exit 3) with the
/// advice otherwise: `adopt --from TOOL` when another tool's history table is there.
pub(crate) async fn adoption(
    gate: &Gate,
    client: &dyn Session,
    applied: &[Applied],
) -> Result<Option<i64>, Error> {
    if !applied.is_empty() {
        return Ok(None);
    }
    let objects = adopt::existing_objects(client).await?;
    if objects.is_empty() {
        return Ok(None);
    }
    let adopt = gate.release.compat.adopt;
    let Some(version) = adopt.baseline else {
        let compat = gate.release.compat.origin.clone();
        let objects_shown = shown(&objects);
        return Err(match other_tool(&objects) {
            Some((table, tools)) => Error::new(
                Exit::Refused,
                OtherToolsHistory {
                    objects: objects_shown,
                    table,
                    tools,
                },
            ),
            None => Error::new(
                Exit::Refused,
                NoHistory {
                    objects: objects_shown,
                    compat,
                },
            ),
        });
    };
    adopt::check_version(&gate.release.catalogue, version).map_err(failure)?;
    if adopt.verify {
        verify(gate, client, version).await?;
    }
    tracing::info!(
        version,
        "[adopt] baseline: taking over the existing database"
    );
    Ok(Some(version))
}

/// The first few objects, and how many more.
fn shown(objects: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = objects
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if objects.len() > SHOWN {
        text.push_str(&format!(" and {} more", objects.len() - SHOWN));
    }
    text
}

/// The history table of another migration tool among `objects`, and the `--from` names of
/// the tools that keep their history in a table of that name.
fn other_tool(objects: &[String]) -> Option<(String, String)> {
    const TOOLS: [Tool; 6] = [
        Tool::Sqlx,
        Tool::GolangMigrate,
        Tool::Dbmate,
        Tool::Goose,
        Tool::Flyway,
        Tool::Diesel,
    ];
    objects.iter().find_map(|object| {
        let table = object.strip_prefix("table ")?;
        let name = table.rsplit('.').next()?;
        let tools: Vec<&str> = TOOLS
            .iter()
            .filter(|tool| tool.table() == name)
            .map(|tool| tool.name())
            .collect();
        (!tools.is_empty()).then(|| (table.to_owned(), tools.join(" or ")))
    })
}

/// Another tool's history without ours: `adopt` maps it and checks it, where a baseline
/// would check nothing.
#[derive(Debug, thiserror::Error)]
#[error(
    "the database has no schemagate history, but {table} is the history of {tools} (the database has {objects}); nothing was changed. Take it over with `schemagate adopt --from {first}` (--dry-run shows the mapping; docs/adopting.md), which checks each applied version against the catalogue",
    first = self.tools.split(" or ").next().unwrap_or_default()
)]
struct OtherToolsHistory {
    objects: String,
    table: String,
    tools: String,
}

/// User objects without a history, and no `[adopt] baseline`.
#[derive(Debug, thiserror::Error)]
#[error(
    "the database already has tables ({objects}) but no migration history; nothing was changed. If it is at schema N, run `schemagate baseline --version N` (add --verify to prove it first), or set [adopt] baseline = N in {compat}"
)]
struct NoHistory {
    objects: String,
    compat: String,
}
