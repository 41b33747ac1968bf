//! goose (`goose up`): `goose_db_version`, a log of applies and reverts.
//!
//! internal/dialect/dialectquery `postgres.go` creates `(id serial, version_id bigint,
//! is_applied boolean, tstamp timestamp, PRIMARY KEY(id))`; goose inserts version 0 itself
//! when it creates the table, a row per apply, and (older goose) a row with `is_applied =
//! false` per revert, while newer goose deletes the version's rows instead. For each version
//! the newest row (highest `id`) says whether it is applied, as goose's own listing reads it.
//! Each migration runs with its row in one transaction, so there is no failed state.

use std::collections::BTreeMap;

use tokio_postgres::Client;

use super::model::{AdoptError, Entry, Kind, Tool, ToolHistory, query};

/// Its history table.
const TABLE: &str = Tool::Goose.table();

/// Whether the columns are goose's.
pub fn has_layout(columns: &[String]) -> bool {
    ["id", "version_id", "is_applied"]
        .iter()
        .all(|c| columns.iter().any(|have| have == c))
}

/// The versions whose newest row is an apply, by version; goose's own version 0 left out.
pub async fn read(client: &Client) -> Result<ToolHistory, AdoptError> {
    let rows = client
        .query(
            "SELECT version_id::int8, is_applied FROM goose_db_version ORDER BY id DESC",
            &[],
        )
        .await
        .map_err(query("read goose_db_version"))?;
    let mut newest: BTreeMap<i64, bool> = BTreeMap::new();
    for row in &rows {
        newest.entry(row.get(0)).or_insert(row.get(1));
    }
    let entries = newest
        .into_iter()
        .filter(|&(version, applied)| version != 0 && applied)
        .map(|(version, _)| Entry::number(version, Kind::Applied { checksum: None }))
        .collect();
    Ok(ToolHistory {
        tool: Tool::Goose,
        table: TABLE,
        entries,
        skipped: Vec::new(),
    })
}
