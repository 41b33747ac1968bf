//! [`Session`]: one open connection to the database, and what the gate asks on it.

use std::collections::BTreeSet;
use std::path::Path;

use async_trait::async_trait;

use super::{BackupRequest, Executed, Execution, Lock, LockWait, Observer, StepFailed};
use crate::adopt::{Tool, ToolHistory};
use crate::applied::Applied;
use crate::audit;
use crate::backup::{Origin, Preview, RestorePlan, Retention};
use crate::catalogue::Catalogue;
use crate::drift::Recorded;
use crate::fleet::Replica;
use crate::gate::{Error, Exit};
use crate::plan::Plan;
use crate::schema::{Earlier, Tracked};

/// One connection. Methods that only read take `&self`, so the gate can ask several things
/// of the lock's session while long work runs on it.
#[async_trait]
pub(crate) trait Session: Send + Sync {
    /// Takes the migration lock on this session, polling until `wait.timeout` (exit 7)
    /// and telling `wait.waiting` who holds it meanwhile; the caller races a stop against
    /// it.
    async fn lock(self: Box<Self>, wait: LockWait<'_>) -> Result<Box<dyn Lock>, Error>;

    /// Creates the history table unless it exists (under the lock, before steps run).
    async fn ensure_history(&mut self) -> Result<(), Error>;

    /// The history rows, by version; no table is an empty history.
    async fn applied(&self) -> Result<Vec<Applied>, Error>;

    /// The highest applied version; 0 for none.
    async fn current_version(&self) -> Result<i64, Error>;

    /// Records `rows` (baseline, adopt) in one transaction, the table created first.
    async fn record_applied(&mut self, rows: &[Applied]) -> Result<(), Error>;

    /// Runs a plan's steps in order, each file with its history row in one transaction
    /// where the engine allows, stopping between steps when `observer` says so.
    async fn execute(
        &mut self,
        run: &Execution<'_>,
        observer: &mut (dyn Observer + Send),
    ) -> Result<Executed, StepFailed>;

    /// Refuses (exit 3) a plan too big for one transaction on this server (`--atomic`).
    async fn fits_one_transaction(&self, catalogue: &Catalogue, plan: &Plan) -> Result<(), Error>;

    /// Exit 3 unless this session is on the writable primary.
    async fn writable_primary(&self) -> Result<(), Error>;

    /// Records an audit row, creating the audit table first.
    async fn record_audit(&self, entry: &audit::Entry) -> Result<(), Error>;

    /// The newest `limit` audit rows, newest first.
    async fn recent_audit(&self, limit: i64) -> Result<Vec<audit::Recorded>, Error>;

    /// The live replicas of every release (exit 4 when the database went away).
    async fn live(&self) -> Result<Vec<Replica>, Error>;

    /// The user schema's objects, one line each, to compare two databases.
    async fn describe(&self) -> Result<BTreeSet<String>, Error>;

    /// Records `objects` as the description a change to `version` left (DESIGN §19),
    /// creating `schemagate_schema` first (under the lock).
    async fn record_schema(&self, version: i64, objects: &BTreeSet<String>) -> Result<(), Error>;

    /// Marks record `id` superseded by a change about to begin, or (`false`) current again.
    async fn mark_schema(&self, id: i64, superseded: bool) -> Result<(), Error>;

    /// The newest recorded description; `None` before the first.
    async fn recorded_schema(&self) -> Result<Option<Recorded>, Error>;

    /// The user schema described to be followed step by step (`verify`, on a scratch
    /// database): by default the whole description, each line its own object.
    async fn track(&self) -> Result<Tracked, Error> {
        Ok(Tracked::whole(self.describe().await?))
    }

    /// Brings `tracked` to the schema now and returns the earlier lines of the objects
    /// changed since the last look: by default by describing the whole schema again; an
    /// engine whose catalogues tell what changed re-describes only that.
    async fn changed(&self, tracked: &mut Tracked) -> Result<Earlier, Error> {
        Ok(tracked.follow(self.describe().await?))
    }

    /// Runs a plan on this session's scratch database ([`crate::scratch`]), then brings
    /// `tracked` to the schema it left as [`Self::changed`] does (`verify`). The outer error
    /// is the step's, the inner one the look's. By default the one after the other; an
    /// engine may send the look's queries behind the step's, in the same round trip.
    async fn execute_and_look(
        &mut self,
        run: &Execution<'_>,
        observer: &mut (dyn Observer + Send),
        tracked: &mut Tracked,
    ) -> Result<Result<Earlier, Error>, StepFailed> {
        self.execute(run, observer).await?;
        Ok(self.changed(tracked).await)
    }

    /// Another tool's history, read as that tool reads it (`adopt --from`).
    async fn tool_history(&self, tool: Tool) -> Result<ToolHistory, Error>;

    /// Which database (of which server) this is, to tell its backups from others'.
    async fn origin(&self) -> Result<Origin, Error>;

    /// What a backup now, then retention by `policy`, would do; changes nothing.
    async fn backup_preview(
        &self,
        request: &BackupRequest<'_>,
        policy: Retention,
    ) -> Result<Preview, Error>;

    /// The checks of restoring `file` here (checksum, origin, refusals); changes nothing.
    async fn restore_plan(&self, file: &Path, tool: Option<&Path>) -> Result<RestorePlan, Error>;

    /// The step left part way, described with its version, on an engine whose steps can
    /// stop part way (MariaDB/MySQL, where DDL commits by itself); `None` elsewhere.
    async fn dirty(&self) -> Result<Option<(i64, String)>, Error> {
        Ok(None)
    }

    /// `repair --version V --applied|--reverted`: records that the step of `version` left
    /// part way is now applied whole (`applied`) or not at all, as the operator made it by
    /// hand (exit 2 when `version` is not that step).
    async fn repair(&mut self, version: i64, applied: bool) -> Result<(), Error> {
        let _ = applied;
        Err(Error::new(Exit::Usage, NothingToRepair { version }))
    }
}

/// `repair` on an engine whose steps are all or nothing.
#[derive(Debug, thiserror::Error)]
#[error(
    "nothing to repair: version {version} is not a step left part way (on this engine every step is all or nothing)"
)]
struct NothingToRepair {
    version: i64,
}
