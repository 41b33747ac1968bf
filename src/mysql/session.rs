//! [`MysqlSession`]: one mysql_async connection, and the seam's questions asked on it.
//!
//! The driver's connection needs `&mut` for every query while the seam reads through
//! `&self`, so the connection sits behind an async mutex: one question at a time, as on
//! any single connection.

use std::collections::BTreeSet;
use std::path::Path;

use async_trait::async_trait;
use mysql_async::Conn;
use tokio::sync::Mutex;

use super::history::{self, HistoryError};
use super::options::Options;
use crate::adopt::{Tool, ToolHistory};
use crate::applied::Applied;
use crate::audit;
use crate::backup::{Origin, Preview, RestorePlan, Retention};
use crate::catalogue::Catalogue;
use crate::engine::{
    BackupRequest, Executed, Execution, Lock, LockWait, Observer, Session, StepFailed,
};
use crate::fleet::Replica;
use crate::gate::{Error, Exit};
use crate::plan::Plan;

/// A connection and where it leads.
pub(crate) struct MysqlSession {
    pub(crate) conn: Mutex<Conn>,
    /// The database it is on (the target's, or a scratch one's).
    pub(crate) options: Options,
}

impl MysqlSession {
    pub(crate) fn new(conn: Conn, options: Options) -> Self {
        Self {
            conn: Mutex::new(conn),
            options,
        }
    }

    /// What a backup of this session's database needs.
    pub(crate) fn dump_request<'a>(
        &'a self,
        request: &BackupRequest<'a>,
    ) -> super::dump::Request<'a> {
        super::dump::Request {
            options: &self.options,
            dir: request.dir,
            app_version: request.app_version.clone(),
            schema_version: request.schema_version,
            dump_client: request.tool,
            timeout: request.timeout,
            verify_restore: request.verify_restore,
        }
    }
}

/// The history could not be read or written: exit 4 when the database went away, else 1.
pub(crate) fn history_failed(error: HistoryError) -> Error {
    let exit = match &error {
        HistoryError::Query {
            connection_lost: true,
            ..
        } => Exit::Unreachable,
        HistoryError::NotDirty { .. } => Exit::Usage,
        HistoryError::Query { .. } => Exit::Internal,
    };
    Error::new(exit, error)
}

/// A query on the audit or fleet table failed: exit 4 when the database went away, else 1.
fn table_failed(error: super::audit::TableError) -> Error {
    let exit = if error.connection_lost {
        Exit::Unreachable
    } else {
        Exit::Internal
    };
    Error::new(exit, error)
}

/// The database holds a step that stopped part way: every run refuses it (exit 3).
#[derive(Debug, thiserror::Error)]
#[error(
    "the database is dirty: {dirty}. Nothing was changed. Make the database hold all or none of that migration by hand (the backup taken before it is in the backup directory), then record which with `schemagate repair --version {version} --applied` or `--reverted`; or restore that backup"
)]
pub(crate) struct DirtyDatabase {
    pub(crate) dirty: history::Dirty,
    pub(crate) version: i64,
}

/// The applied history, or the refusal (exit 3) of a database a restore left
/// part-loaded, or of a dirty one.
async fn applied_or_refused(conn: &mut Conn) -> Result<Vec<Applied>, Error> {
    if let Some(interrupted) = super::restore::interrupted(conn)
        .await
        .map_err(|e| Error::new(Exit::Internal, e))?
    {
        return Err(Error::new(Exit::Refused, interrupted));
    }
    let history = history::load(conn).await.map_err(history_failed)?;
    match history.dirty {
        Some(dirty) => Err(Error::new(
            Exit::Refused,
            DirtyDatabase {
                version: dirty.version,
                dirty,
            },
        )),
        None => Ok(history.applied),
    }
}

/// What this engine does not do yet, said as a usage error (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{what} is not available on MariaDB/MySQL yet: {instead}")]
pub(crate) struct NotOnMysql {
    pub(crate) what: &'static str,
    pub(crate) instead: &'static str,
}

#[async_trait]
impl Session for MysqlSession {
    async fn lock(self: Box<Self>, wait: LockWait<'_>) -> Result<Box<dyn Lock>, Error> {
        Ok(Box::new(
            super::held::MysqlLock::acquire(*self, wait).await?,
        ))
    }

    async fn ensure_history(&mut self) -> Result<(), Error> {
        history::ensure_table(self.conn.get_mut())
            .await
            .map_err(history_failed)
    }

    async fn applied(&self) -> Result<Vec<Applied>, Error> {
        let mut conn = self.conn.lock().await;
        applied_or_refused(&mut conn).await
    }

    async fn current_version(&self) -> Result<i64, Error> {
        let mut conn = self.conn.lock().await;
        let applied = history::read(&mut conn).await.map_err(history_failed)?;
        Ok(applied.last().map_or(0, |a| a.version))
    }

    async fn record_applied(&mut self, rows: &[Applied]) -> Result<(), Error> {
        history::record_applied(self.conn.get_mut(), rows)
            .await
            .map_err(history_failed)
    }

    async fn execute(
        &mut self,
        run: &Execution<'_>,
        observer: &mut (dyn Observer + Send),
    ) -> Result<Executed, StepFailed> {
        super::steps::execute(self.conn.get_mut(), run, observer).await
    }

    async fn fits_one_transaction(
        &self,
        _catalogue: &Catalogue,
        _plan: &Plan,
    ) -> Result<(), Error> {
        Err(Error::new(
            Exit::Refused,
            NotOnMysql {
                what: "--atomic",
                instead: "DDL commits by itself on MariaDB and MySQL, so no plan with DDL can be one transaction; apply without --atomic (each statement's progress is recorded)",
            },
        ))
    }

    async fn writable_primary(&self) -> Result<(), Error> {
        let mut conn = self.conn.lock().await;
        super::writable::ensure_writable(&mut conn)
            .await
            .map_err(|e| {
                let exit = match e {
                    super::writable::WritableError::ReadOnly { .. } => Exit::Refused,
                    super::writable::WritableError::Query(_) => Exit::Internal,
                };
                Error::new(exit, e)
            })
    }

    async fn record_audit(&self, entry: &audit::Entry) -> Result<(), Error> {
        let mut conn = self.conn.lock().await;
        super::audit::record(&mut conn, entry)
            .await
            .map_err(table_failed)
    }

    async fn recent_audit(&self, limit: i64) -> Result<Vec<audit::Recorded>, Error> {
        let mut conn = self.conn.lock().await;
        super::audit::recent(&mut conn, limit)
            .await
            .map_err(table_failed)
    }

    async fn live(&self) -> Result<Vec<Replica>, Error> {
        let mut conn = self.conn.lock().await;
        super::audit::live(&mut conn).await.map_err(table_failed)
    }

    async fn describe(&self) -> Result<BTreeSet<String>, Error> {
        let mut conn = self.conn.lock().await;
        super::schema::describe(&mut conn).await.map_err(|e| {
            let exit = if super::error::connection_lost(&e) {
                Exit::Unreachable
            } else {
                Exit::Internal
            };
            Error::new(exit, DescribeFailed(super::error::describe(&e)))
        })
    }

    async fn record_schema(&self, version: i64, objects: &BTreeSet<String>) -> Result<(), Error> {
        let mut conn = self.conn.lock().await;
        super::drift::record(&mut conn, version, objects)
            .await
            .map_err(table_failed)
    }

    async fn mark_schema(&self, id: i64, superseded: bool) -> Result<(), Error> {
        let mut conn = self.conn.lock().await;
        super::drift::mark(&mut conn, id, superseded)
            .await
            .map_err(table_failed)
    }

    async fn recorded_schema(&self) -> Result<Option<crate::drift::Recorded>, Error> {
        let mut conn = self.conn.lock().await;
        super::drift::latest(&mut conn).await.map_err(table_failed)
    }

    async fn tool_history(&self, _tool: Tool) -> Result<ToolHistory, Error> {
        Err(Error::new(
            Exit::Usage,
            NotOnMysql {
                what: "adopt --from",
                instead: "only a refinery history (refinery_schema_history) is taken over as it is",
            },
        ))
    }

    async fn origin(&self) -> Result<Origin, Error> {
        let mut conn = self.conn.lock().await;
        let (_, uuid) = super::dump::server(&mut conn)
            .await
            .map_err(|e| Error::new(Exit::Internal, e))?;
        Ok(Origin {
            database: self.options.database.clone(),
            system_identifier: uuid,
        })
    }

    async fn backup_preview(
        &self,
        request: &BackupRequest<'_>,
        policy: Retention,
    ) -> Result<Preview, Error> {
        let mut conn = self.conn.lock().await;
        super::dump::preview(&mut conn, &self.dump_request(request), policy)
            .await
            .map_err(|e| Error::new(Exit::BackupFailed, e))
    }

    async fn dirty(&self) -> Result<Option<(i64, String)>, Error> {
        let mut conn = self.conn.lock().await;
        let dirty = history::dirty(&mut conn).await.map_err(history_failed)?;
        Ok(dirty.map(|d| (d.version, d.to_string())))
    }

    async fn repair(&mut self, version: i64, applied: bool) -> Result<(), Error> {
        let resolution = if applied {
            history::Resolution::Applied
        } else {
            history::Resolution::Reverted
        };
        history::repair(self.conn.get_mut(), version, resolution)
            .await
            .map(drop)
            .map_err(history_failed)
    }

    async fn restore_plan(&self, file: &Path, _tool: Option<&Path>) -> Result<RestorePlan, Error> {
        let mut conn = self.conn.lock().await;
        super::restore::plan(&mut conn, &self.options, file)
            .await
            .map_err(|e| {
                let exit = match &e {
                    super::restore::LoadError::Query { .. } => Exit::Usage,
                    _ => Exit::BackupFailed,
                };
                Error::new(exit, e)
            })
    }
}

/// The schema could not be described.
#[derive(Debug, thiserror::Error)]
#[error("cannot describe the database's schema: {0}")]
struct DescribeFailed(String);
