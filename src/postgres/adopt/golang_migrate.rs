//! golang-migrate's history table read on PostgreSQL ([`crate::adopt::golang_migrate`] says what it holds).

use tokio_postgres::Client;

use super::query;
use crate::adopt::{AdoptError, Entry, Kind, Tool, ToolHistory};

/// Its history table.
const TABLE: &str = Tool::GolangMigrate.table();

/// The current version (golang-migrate reads one row; a table it kept never has more).
pub(super) async fn read(client: &Client) -> Result<ToolHistory, AdoptError> {
    let rows = client
        .query(
            "SELECT version::int8, dirty FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .map_err(query("read schema_migrations"))?;
    let entries = rows
        .iter()
        .map(|row| {
            let version: i64 = row.get(0);
            let kind = if row.get::<_, bool>(1) {
                Kind::Failed {
                    state: "dirty (dirty = true)",
                    advice: "Fix the schema by hand (finish or undo that migration), then tell golang-migrate where it is with `migrate force V` (V: the last version fully applied)".to_owned(),
                }
            } else {
                Kind::UpTo { is_migration: true }
            };
            Entry::number(version, kind)
        })
        .collect();
    Ok(ToolHistory {
        tool: Tool::GolangMigrate,
        table: TABLE,
        entries,
        skipped: Vec::new(),
    })
}
