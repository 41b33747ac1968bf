//! The applied history: refinery's `refinery_schema_history` table, so a database migrated
//! by refinery is adopted as-is and refinery can read what we write (DESIGN §3).
//!
//! Versions are `int8`, as refinery's `int8-versions` makes them, so timestamp versions
//! (`20240120120000`, the default of sqlx-cli, dbmate, goose and golang-migrate) fit. A table
//! refinery made with `int4` is read as it is and widened by the first change, in that
//! change's transaction ([`WIDEN`]).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, GenericClient};

use crate::applied::Applied;

/// refinery's table name.
pub(crate) const TABLE: &str = crate::applied::HISTORY_TABLE;

/// refinery's DDL for the table (with `int8-versions`), so both tools create the same thing.
const CREATE: &str = "CREATE TABLE IF NOT EXISTS refinery_schema_history(
             version int8 PRIMARY KEY,
             name VARCHAR(255),
             applied_on VARCHAR(255),
             checksum VARCHAR(255))";

/// Reading or writing the history failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {TABLE}: {}", crate::postgres::db::describe(.source))]
pub(crate) struct HistoryError {
    action: &'static str,
    #[source]
    source: tokio_postgres::Error,
}

impl HistoryError {
    fn new(action: &'static str, source: tokio_postgres::Error) -> Self {
        Self { action, source }
    }

    /// Whether the connection was lost (the database went away), rather than the query
    /// failing on a live session.
    pub(crate) fn connection_lost(&self) -> bool {
        crate::postgres::db::connection_lost(&self.source)
    }
}

/// Creates the table unless it exists. Called under the migration lock, so the first boot
/// of many replicas does not race on it.
pub(crate) async fn ensure_table(client: &Client) -> Result<(), HistoryError> {
    crate::postgres::db::create_table_unless_exists(client, TABLE, CREATE)
        .await
        .map_err(|e| HistoryError::new("create", e))
}

/// The applied history by version; empty when the table does not exist yet.
pub(crate) async fn read(client: &impl GenericClient) -> Result<Vec<Applied>, HistoryError> {
    let query = "SELECT version::int8, name, applied_on, checksum FROM refinery_schema_history ORDER BY version";
    let rows = match client.query(query, &[]).await {
        Ok(rows) => rows,
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => return Ok(Vec::new()),
        Err(e) => return Err(HistoryError::new("read", e)),
    };
    Ok(rows
        .iter()
        .map(|row| Applied {
            version: row.get(0),
            name: row.get::<_, Option<String>>(1).unwrap_or_default(),
            applied_on: row.get::<_, Option<String>>(2).unwrap_or_default(),
            checksum: row.get::<_, Option<String>>(3).and_then(|c| c.parse().ok()),
        })
        .collect())
}

/// The highest applied version (0 when nothing is applied), in one cheap query.
pub(crate) async fn current_version(client: &impl GenericClient) -> Result<i64, HistoryError> {
    match client
        .query_one(
            "SELECT coalesce(max(version), 0)::int8 FROM refinery_schema_history",
            &[],
        )
        .await
    {
        Ok(row) => Ok(row.get(0)),
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(0),
        Err(e) => Err(HistoryError::new("read", e)),
    }
}

/// Widens a refinery `int4` history to `int8`; run in the transaction of the first change.
pub(crate) const WIDEN: &str = "ALTER TABLE refinery_schema_history ALTER COLUMN version TYPE int8";

/// Whether the history's `version` column is narrower than `int8` (refinery's default).
pub(crate) async fn is_narrow(client: &impl GenericClient) -> Result<bool, HistoryError> {
    client
        .query_one(
            "SELECT coalesce((SELECT atttypid <> 'int8'::regtype FROM pg_attribute \
             WHERE attrelid = to_regclass('refinery_schema_history') AND attname = 'version'), false)",
            &[],
        )
        .await
        .map(|row| row.get(0))
        .map_err(|e| HistoryError::new("read the type of", e))
}

/// The statement recording an applied migration, in refinery's format (RFC 3339 time,
/// checksum as decimal text). Names are `\w+`, so quoting cannot be broken.
pub(crate) fn insert_statement(version: i64, name: &str, checksum: u64) -> String {
    let now = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default();
    format!(
        "INSERT INTO {TABLE} (version, name, applied_on, checksum) VALUES ({version}, '{}', '{now}', '{checksum}')",
        name.replace('\'', "''")
    )
}

/// Records `rows` as applied in one transaction, after creating the table if it is missing
/// and widening an `int4` one in the same transaction (the caller holds the lock and has
/// taken the backup). Used by `baseline` and `adopt`, which take over a database at once.
pub(crate) async fn record_applied(
    client: &mut Client,
    rows: &[Applied],
) -> Result<(), HistoryError> {
    ensure_table(client).await?;
    let write = |e| HistoryError::new("write", e);
    let transaction = client.transaction().await.map_err(write)?;
    if is_narrow(&transaction).await? {
        transaction
            .batch_execute(WIDEN)
            .await
            .map_err(|e| HistoryError::new("widen", e))?;
    }
    for row in rows {
        let statement = insert_statement(row.version, &row.name, row.checksum.unwrap_or_default());
        transaction.batch_execute(&statement).await.map_err(write)?;
    }
    transaction.commit().await.map_err(write)
}

/// The statement forgetting a reverted migration.
pub(crate) fn delete_statement(version: i64) -> String {
    format!("DELETE FROM {TABLE} WHERE version = {version}")
}
