//! [`SqliteSession`]: one connection to the database file, and the seam's questions asked
//! on it, each a call of the wing's parts on the blocking pool.

use std::collections::BTreeSet;
use std::path::Path;

use async_trait::async_trait;

use super::connect::Database;
use super::error::SqliteError;
use super::held::SqliteLock;
use super::{audit, backup, drift, fleet, history, run, schema, writable};
use crate::adopt::{Tool, ToolHistory};
use crate::applied::Applied;
use crate::backup::{Origin, Preview, RestorePlan, Retention};
use crate::catalogue::Catalogue;
use crate::engine::{
    BackupRequest, Executed, Execution, Lock, LockWait, Observer, Session, StepFailed,
};
use crate::fleet::Replica;
use crate::gate::{Error, Exit};
use crate::plan::Plan;

/// A connection to a SQLite database.
#[derive(Debug, Clone)]
pub(crate) struct SqliteSession {
    pub(crate) database: Database,
}

impl SqliteSession {
    /// A session on an open database.
    pub(crate) fn new(database: Database) -> Self {
        Self { database }
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        &self.database.location().path
    }

    /// Runs `work` on the connection, its [`SqliteError`] made exit 1 (a statement on a
    /// file that opened fine failing is no usage or reachability problem).
    async fn ask<T, F>(&self, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut rusqlite::Connection) -> Result<T, SqliteError> + Send + 'static,
    {
        self.database
            .call(work)
            .await
            .map_err(|e| Error::new(Exit::Internal, e))
    }
}

/// `adopt --from` reads other tools' PostgreSQL tables; on SQLite it is not built yet.
#[derive(Debug, thiserror::Error)]
#[error(
    "adopt --from {tool} is not available on SQLite yet: it reads that tool's PostgreSQL history table; nothing was changed"
)]
struct NoAdoption {
    tool: String,
}

#[async_trait]
impl Session for SqliteSession {
    async fn lock(self: Box<Self>, wait: LockWait<'_>) -> Result<Box<dyn Lock>, Error> {
        Ok(Box::new(SqliteLock::acquire(*self, wait).await?))
    }

    async fn ensure_history(&mut self) -> Result<(), Error> {
        self.ask(|c| history::ensure_table(c)).await
    }

    async fn applied(&self) -> Result<Vec<Applied>, Error> {
        self.ask(|c| history::read(c)).await
    }

    async fn current_version(&self) -> Result<i64, Error> {
        self.ask(|c| history::current_version(c)).await
    }

    async fn record_applied(&mut self, rows: &[Applied]) -> Result<(), Error> {
        let rows = rows.to_vec();
        self.ask(move |c| history::record_applied(c, &rows)).await
    }

    async fn execute(
        &mut self,
        run: &Execution<'_>,
        observer: &mut (dyn Observer + Send),
    ) -> Result<Executed, StepFailed> {
        run::execute_observed(&self.database, run, observer).await
    }

    async fn fits_one_transaction(&self, _: &Catalogue, _: &Plan) -> Result<(), Error> {
        // SQLite's transaction has no lock table to outgrow: any plan fits.
        Ok(())
    }

    async fn writable_primary(&self) -> Result<(), Error> {
        let location = self.database.location().clone();
        self.database
            .call(move |c| writable::writable(c, &location))
            .await
            .map_err(|e| Error::new(Exit::Refused, e))
    }

    async fn record_audit(&self, entry: &crate::audit::Entry) -> Result<(), Error> {
        let entry = entry.clone();
        self.ask(move |c| audit::record(c, &entry)).await
    }

    async fn recent_audit(&self, limit: i64) -> Result<Vec<crate::audit::Recorded>, Error> {
        self.ask(move |c| audit::recent(c, limit)).await
    }

    async fn live(&self) -> Result<Vec<Replica>, Error> {
        self.ask(fleet::live).await
    }

    async fn describe(&self) -> Result<BTreeSet<String>, Error> {
        self.ask(|c| schema::describe(c)).await
    }

    async fn record_schema(&self, version: i64, objects: &BTreeSet<String>) -> Result<(), Error> {
        let objects = objects.clone();
        self.ask(move |c| drift::record(c, version, &objects)).await
    }

    async fn mark_schema(&self, id: i64, superseded: bool) -> Result<(), Error> {
        self.ask(move |c| drift::mark(c, id, superseded)).await
    }

    async fn recorded_schema(&self) -> Result<Option<crate::drift::Recorded>, Error> {
        self.ask(|c| drift::latest(c)).await
    }

    async fn tool_history(&self, tool: Tool) -> Result<ToolHistory, Error> {
        Err(Error::new(
            Exit::Usage,
            NoAdoption {
                tool: format!("{tool:?}").to_lowercase(),
            },
        ))
    }

    async fn origin(&self) -> Result<Origin, Error> {
        Ok(backup::origin(self.path()))
    }

    async fn backup_preview(
        &self,
        request: &BackupRequest<'_>,
        policy: Retention,
    ) -> Result<Preview, Error> {
        backup::preview(self.path(), request, policy).map_err(|e| Error::new(Exit::BackupFailed, e))
    }

    async fn restore_plan(&self, file: &Path, _tool: Option<&Path>) -> Result<RestorePlan, Error> {
        super::restore::plan(self.path(), file)
    }
}
