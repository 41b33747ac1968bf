//! Diesel's history table read on PostgreSQL ([`crate::adopt::diesel`] says what it holds).

use tokio_postgres::Client;

use super::query;
use crate::adopt::{AdoptError, Entry, Kind, Tool, ToolHistory};
use crate::catalogue::diesel_version;

/// Its history table.
const TABLE: &str = Tool::Diesel.table();

/// The applied versions, in diesel's order.
pub(super) async fn read(client: &Client) -> Result<ToolHistory, AdoptError> {
    let rows = client
        .query(
            "SELECT version::text FROM __diesel_schema_migrations ORDER BY version",
            &[],
        )
        .await
        .map_err(query("read __diesel_schema_migrations"))?;
    let entries = rows
        .iter()
        .map(|row| {
            let label: String = row.get(0);
            Entry {
                version: diesel_version(&label),
                label,
                kind: Kind::Applied { checksum: None },
            }
        })
        .collect();
    Ok(ToolHistory {
        tool: Tool::Diesel,
        table: TABLE,
        entries,
        skipped: Vec::new(),
    })
}
