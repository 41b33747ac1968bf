//! [`PgSession`]: one tokio-postgres connection, and the seam's questions asked on it.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use tokio_postgres::Client;

use super::adopt;
use super::audit;
use super::backup;
use super::database::Target;
use super::exit_of;
use super::fleet;
use super::schema;
use super::tracked;
use crate::adopt::{Tool, ToolHistory};
use crate::applied::Applied;
use crate::backup::{BackupError, Origin, Preview, RestorePlan, Retention};
use crate::catalogue::Catalogue;
use crate::db;
use crate::engine::{
    BackupRequest, Executed, Execution, Lock, LockWait, Observer, Session, StepFailed,
};
use crate::fleet::{FleetError, Replica};
use crate::gate::{Error, Exit};
use crate::plan::Plan;
use crate::postgres::history::{self, HistoryError};
use crate::postgres::lock::MigrationLock;
use crate::schema::{Earlier, Tracked};

/// A connection and where it leads.
pub(crate) struct PgSession {
    pub(crate) client: Client,
    pub(crate) target: Arc<Target>,
    /// The server process, once the session holds the lock: the steps' watcher looks at it.
    pub(crate) pid: Option<i32>,
    /// refinery's `int4` history, found by [`Session::ensure_history`]: the first step
    /// widens it in its transaction.
    pub(crate) narrow: bool,
    /// A session on a scratch database (`verify`, `baseline --verify`), which nobody else
    /// uses: each transactional step is sent in one round trip (`super::migrate`).
    pub(crate) scratch: bool,
}

impl PgSession {
    /// The session of `client`, made to `target`.
    pub(crate) fn new(client: Client, target: Arc<Target>) -> Self {
        Self {
            client,
            target,
            pid: None,
            narrow: false,
            scratch: false,
        }
    }

    /// What pg_dump and the restore's tools need of it.
    pub(crate) fn backup_request<'a>(&'a self, request: &BackupRequest<'a>) -> backup::Request<'a> {
        backup::Request {
            client: &self.client,
            url: &self.target.connection,
            application_name: &self.target.application_name,
            dir: request.dir,
            app_version: request.app_version.clone(),
            schema_version: request.schema_version,
            pg_dump: request.tool,
            timeout: request.timeout,
        }
    }
}

/// The history could not be read or written: exit 4 when the database went away, else 1.
pub(crate) fn history_failed(error: HistoryError) -> Error {
    let exit = if error.connection_lost() {
        Exit::Unreachable
    } else {
        Exit::Internal
    };
    Error::new(exit, error)
}

/// A fleet query failed: exit 4 when the database went away, else 1.
fn fleet_failed(error: FleetError) -> Error {
    let exit = match &error {
        FleetError::Query { source, .. } => source
            .downcast_ref::<tokio_postgres::Error>()
            .map_or(Exit::Internal, |source| exit_of(source, Exit::Internal)),
        _ => Exit::Internal,
    };
    Error::new(exit, error)
}

/// A dump or manifest that is not a regular file of a sane size is a usage error (exit 2);
/// any other failure to check it is a failed backup (exit 5).
fn plan_failed(error: BackupError) -> Error {
    let exit = match &error {
        BackupError::Input(input) if input.is_unusable() => Exit::Usage,
        _ => Exit::BackupFailed,
    };
    Error::new(exit, error)
}

#[async_trait]
impl Session for PgSession {
    async fn lock(self: Box<Self>, wait: LockWait<'_>) -> Result<Box<dyn Lock>, Error> {
        Ok(Box::new(MigrationLock::acquire(*self, wait).await?))
    }

    async fn ensure_history(&mut self) -> Result<(), Error> {
        history::ensure_table(&self.client)
            .await
            .map_err(history_failed)?;
        self.narrow = history::is_narrow(&self.client)
            .await
            .map_err(history_failed)?;
        Ok(())
    }

    async fn applied(&self) -> Result<Vec<Applied>, Error> {
        history::read(&self.client).await.map_err(history_failed)
    }

    async fn current_version(&self) -> Result<i64, Error> {
        history::current_version(&self.client)
            .await
            .map_err(history_failed)
    }

    async fn record_applied(&mut self, rows: &[Applied]) -> Result<(), Error> {
        history::record_applied(&mut self.client, rows)
            .await
            .map_err(history_failed)
    }

    async fn execute(
        &mut self,
        run: &Execution<'_>,
        observer: &mut (dyn Observer + Send),
    ) -> Result<Executed, StepFailed> {
        super::steps::execute(self, run, observer).await
    }

    async fn fits_one_transaction(&self, catalogue: &Catalogue, plan: &Plan) -> Result<(), Error> {
        super::steps::fits_one_transaction(&self.client, catalogue, plan).await
    }

    async fn writable_primary(&self) -> Result<(), Error> {
        primary_only(&self.client).await
    }

    async fn record_audit(&self, entry: &crate::audit::Entry) -> Result<(), Error> {
        audit::ensure_table(&self.client)
            .await
            .map_err(|e| Error::new(Exit::Internal, e))?;
        audit::record(&self.client, entry)
            .await
            .map_err(|e| Error::new(Exit::Internal, e))
    }

    async fn recent_audit(&self, limit: i64) -> Result<Vec<crate::audit::Recorded>, Error> {
        audit::recent(&self.client, limit)
            .await
            .map_err(|e| Error::new(Exit::Internal, e))
    }

    async fn live(&self) -> Result<Vec<Replica>, Error> {
        fleet::live(&self.client).await.map_err(fleet_failed)
    }

    async fn describe(&self) -> Result<BTreeSet<String>, Error> {
        schema::describe(&self.client)
            .await
            .map_err(describe_failed)
    }

    async fn track(&self) -> Result<Tracked, Error> {
        tracked::track(&self.client).await.map_err(describe_failed)
    }

    async fn changed(&self, schema: &mut Tracked) -> Result<Earlier, Error> {
        tracked::changed(&self.client, schema)
            .await
            .map_err(describe_failed)
    }

    /// A scratch database's step of one transactional file is sent in one round trip
    /// (`super::migrate::one_step`), and the look's queries behind it in the same one: the
    /// server runs them in order, so the look sees what the step committed (or, when it
    /// failed, the schema it left untouched). Each of `verify`'s three steps per migration
    /// and its look take one round trip instead of seven.
    async fn execute_and_look(
        &mut self,
        run: &Execution<'_>,
        observer: &mut (dyn Observer + Send),
        tracked: &mut Tracked,
    ) -> Result<Result<Earlier, Error>, StepFailed> {
        let prelude = self.narrow.then_some(history::WIDEN);
        if self.scratch
            && let Some(step) = super::migrate::one_step(&self.client, run, prelude)
        {
            // `biased`: the step's queries are queued first (all at its first poll).
            let (stepped, looked) =
                tokio::join!(biased; step, tracked::changed(&self.client, tracked));
            let took = stepped?;
            if let [done] = run.plan.steps.as_slice() {
                // One step, the last: nothing to stop.
                let _ = observer.step_done(done, took);
            }
            return Ok(looked.map_err(describe_failed));
        }
        self.execute(run, observer).await?;
        Ok(self.changed(tracked).await)
    }

    async fn record_schema(&self, version: i64, objects: &BTreeSet<String>) -> Result<(), Error> {
        super::drift::record(&self.client, version, objects)
            .await
            .map_err(|source| Error::new(exit_of(&source, Exit::Internal), RecordFailed { source }))
    }

    async fn mark_schema(&self, id: i64, superseded: bool) -> Result<(), Error> {
        super::drift::mark(&self.client, id, superseded)
            .await
            .map_err(|source| Error::new(exit_of(&source, Exit::Internal), RecordFailed { source }))
    }

    async fn recorded_schema(&self) -> Result<Option<crate::drift::Recorded>, Error> {
        super::drift::latest(&self.client)
            .await
            .map_err(|source| Error::new(exit_of(&source, Exit::Internal), RecordFailed { source }))
    }

    async fn tool_history(&self, tool: Tool) -> Result<ToolHistory, Error> {
        adopt::read(&self.client, tool)
            .await
            .map_err(|e| Error::new(e.exit(), e))
    }

    async fn origin(&self) -> Result<Origin, Error> {
        super::backup::tools::server(&self.client)
            .await
            .map(|server| server.origin())
            .map_err(|e| Error::new(Exit::Internal, e))
    }

    async fn backup_preview(
        &self,
        request: &BackupRequest<'_>,
        policy: Retention,
    ) -> Result<Preview, Error> {
        backup::preview(&self.backup_request(request), policy)
            .await
            .map_err(|e| Error::new(Exit::BackupFailed, e))
    }

    async fn restore_plan(&self, file: &Path, tool: Option<&Path>) -> Result<RestorePlan, Error> {
        RestorePlan::new(&self.client, file, tool)
            .await
            .map_err(plan_failed)
    }
}

/// The schema could not be described.
#[derive(Debug, thiserror::Error)]
#[error("cannot describe the database's schema: {}", db::describe(.source))]
struct DescribeFailed {
    #[source]
    source: tokio_postgres::Error,
}

/// `schemagate_schema` could not be written or read.
#[derive(Debug, thiserror::Error)]
#[error("cannot write or read schemagate_schema: {}", db::describe(.source))]
struct RecordFailed {
    #[source]
    source: tokio_postgres::Error,
}

/// A failed description, with the exit its error calls for.
fn describe_failed(source: tokio_postgres::Error) -> Error {
    Error::new(exit_of(&source, Exit::Internal), DescribeFailed { source })
}

/// Refuses to change a server in recovery (exit 3): its writes would fail half-way through
/// the plan, after the backup, and the primary is where the schema lives. Asked only when
/// there is something to change, so the no-op gate pays nothing for it.
async fn primary_only(client: &Client) -> Result<(), Error> {
    let in_recovery: bool = client
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .map_err(|source| {
            Error::new(
                exit_of(&source, Exit::Internal),
                Recovery::Unknown { source },
            )
        })?
        .get(0);
    if in_recovery {
        return Err(Error::new(Exit::Refused, Recovery::Standby));
    }
    Ok(())
}

/// Whether the server can take the change.
#[derive(Debug, thiserror::Error)]
enum Recovery {
    /// `pg_is_in_recovery()` could not be asked.
    #[error("cannot ask the server whether it is a standby: {}", db::describe(.source))]
    Unknown {
        #[source]
        source: tokio_postgres::Error,
    },
    /// It is a standby.
    #[error(
        "this server is a standby (in recovery): nothing was changed; point schemagate at the primary (with several hosts, add target_session_attrs=read-write to the URL)"
    )]
    Standby,
}
