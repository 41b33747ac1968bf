//! goose's history table read on PostgreSQL ([`crate::adopt::goose`] says what it holds).

use std::collections::BTreeMap;

use tokio_postgres::Client;

use super::query;
use crate::adopt::{AdoptError, Entry, Kind, Tool, ToolHistory};

/// Its history table.
const TABLE: &str = Tool::Goose.table();

/// The versions whose newest row is an apply, by version; goose's own version 0 left out.
pub(super) async fn read(client: &Client) -> Result<ToolHistory, AdoptError> {
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
