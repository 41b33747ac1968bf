//! golang-migrate (`migrate -database … up`): `schema_migrations` holding one row, the
//! current version and whether it is dirty.
//!
//! database/postgres `postgres.go` creates `(version bigint not null primary key, dirty
//! boolean not null)`, and `SetVersion` truncates the table and inserts the new row in one
//! transaction, so the row is the whole history: every migration up to `version` is
//! applied. `dirty = true` means the migration to `version` failed part-way; golang-migrate
//! refuses to go on until `migrate force V`. dbmate uses the same table name with other
//! columns ([`super::dbmate`]).

use tokio_postgres::Client;

use super::model::{AdoptError, Entry, Kind, Tool, ToolHistory, query};

/// Its history table.
const TABLE: &str = Tool::GolangMigrate.table();

/// Whether the columns are golang-migrate's: a `dirty` flag beside the version.
pub fn has_layout(columns: &[String]) -> bool {
    ["version", "dirty"]
        .iter()
        .all(|c| columns.iter().any(|have| have == c))
}

/// The current version (golang-migrate reads one row; a table it kept never has more).
pub async fn read(client: &Client) -> Result<ToolHistory, AdoptError> {
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
