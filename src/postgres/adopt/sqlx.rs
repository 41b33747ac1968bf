//! sqlx's history table read on PostgreSQL ([`crate::adopt::sqlx`] says what it holds).

use tokio_postgres::Client;

use super::query;
use crate::adopt::{AdoptError, Checksum, Entry, Kind, Tool, ToolHistory};

/// Its history table.
const TABLE: &str = Tool::Sqlx.table();

/// The applied versions, by version.
pub(super) async fn read(client: &Client) -> Result<ToolHistory, AdoptError> {
    let rows = client
        .query(
            "SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version",
            &[],
        )
        .await
        .map_err(query("read _sqlx_migrations"))?;
    let entries = rows
        .iter()
        .map(|row| {
            let version: i64 = row.get(0);
            let kind = if row.get::<_, bool>(1) {
                Kind::Applied {
                    checksum: Some(Checksum::Sha384(row.get(2))),
                }
            } else {
                Kind::Failed {
                    state: "failed (success = false)",
                    advice: format!(
                        "As sqlx says, fix the schema by hand (finish or undo what the migration did) and delete that row from {TABLE}"
                    ),
                }
            };
            Entry::number(version, kind)
        })
        .collect();
    Ok(ToolHistory {
        tool: Tool::Sqlx,
        table: TABLE,
        entries,
        skipped: Vec::new(),
    })
}
