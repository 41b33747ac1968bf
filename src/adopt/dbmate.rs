//! dbmate (`dbmate up`): `schema_migrations` with one row per applied version, as text.
//!
//! pkg/driver/postgres `postgres.go` creates `(version varchar(255) primary key)`, inserts
//! the version in the migration's transaction and deletes it on rollback, so every row is
//! an applied migration and there is no failed state. Versions are the file names' digits
//! (`20240120120000`) kept as text. golang-migrate uses the same table name with a `dirty`
//! column ([`super::golang_migrate`]).

use tokio_postgres::Client;

use super::model::{AdoptError, Entry, Kind, Tool, ToolHistory, query};

/// Its history table.
const TABLE: &str = Tool::Dbmate.table();

/// Whether the columns are dbmate's: a version and no `dirty` flag.
pub fn has_layout(columns: &[String]) -> bool {
    columns.iter().any(|c| c == "version") && !columns.iter().any(|c| c == "dirty")
}

/// The applied versions, as dbmate wrote them.
pub async fn read(client: &Client) -> Result<ToolHistory, AdoptError> {
    let rows = client
        .query(
            "SELECT version::text FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .map_err(query("read schema_migrations"))?;
    let entries = rows
        .iter()
        .map(|row| Entry::parse(row.get::<_, String>(0), Kind::Applied { checksum: None }))
        .collect();
    Ok(ToolHistory {
        tool: Tool::Dbmate,
        table: TABLE,
        entries,
        skipped: Vec::new(),
    })
}
