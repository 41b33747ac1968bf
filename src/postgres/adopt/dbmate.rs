//! dbmate's history table read on PostgreSQL ([`crate::adopt::dbmate`] says what it holds).

use tokio_postgres::Client;

use super::query;
use crate::adopt::{AdoptError, Entry, Kind, Tool, ToolHistory};

/// Its history table.
const TABLE: &str = Tool::Dbmate.table();

/// The applied versions, as dbmate wrote them.
pub(super) async fn read(client: &Client) -> Result<ToolHistory, AdoptError> {
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
