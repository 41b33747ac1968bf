//! Flyway's history table read on PostgreSQL ([`crate::adopt::flyway`] says what it holds).

use std::collections::BTreeMap;

use tokio_postgres::Client;

use super::query;
use crate::adopt::{AdoptError, Checksum, Entry, Kind, Tool, ToolHistory};

/// Its history table.
const TABLE: &str = Tool::Flyway.table();

/// The versions Flyway counts as applied, replayed in `installed_rank` order.
pub(super) async fn read(client: &Client) -> Result<ToolHistory, AdoptError> {
    let rows = client
        .query(
            "SELECT version, type, script, checksum, success FROM flyway_schema_history ORDER BY installed_rank",
            &[],
        )
        .await
        .map_err(query("read flyway_schema_history"))?;
    let mut by_label: BTreeMap<String, Entry> = BTreeMap::new();
    let mut skipped = Vec::new();
    for row in &rows {
        let version: Option<String> = row.get(0);
        let kind: String = row.get(1);
        let script: String = row.get(2);
        let checksum: Option<i32> = row.get(3);
        let success: bool = row.get(4);
        let Some(label) = version else {
            skipped.push(format!(
                "{script}: a repeatable migration, which schemagate has none of; what it made stays as it is"
            ));
            continue;
        };
        if kind == "SCHEMA" {
            continue;
        }
        if !success {
            let advice = format!(
                "Fix the schema by hand (finish or undo {script}), then run `flyway repair`, which removes the failed row"
            );
            let failed = Kind::Failed {
                state: "failed (success = false)",
                advice,
            };
            by_label.insert(label.clone(), Entry::parse(label, failed));
            continue;
        }
        let entry = match kind.as_str() {
            "DELETE" => None,
            undo if undo.starts_with("UNDO") => None,
            "BASELINE" | "SQL_BASELINE" => Some(Kind::UpTo {
                is_migration: false,
            }),
            "SQL" => Some(Kind::Applied {
                checksum: checksum.map(Checksum::FlywayCrc32),
            }),
            _ => Some(Kind::Applied { checksum: None }),
        };
        match entry {
            Some(kind) => by_label.insert(label.clone(), Entry::parse(label, kind)),
            None => by_label.remove(&label),
        };
    }
    let mut entries: Vec<Entry> = by_label.into_values().collect();
    entries.sort_by_key(|e| e.version);
    Ok(ToolHistory {
        tool: Tool::Flyway,
        table: TABLE,
        entries,
        skipped,
    })
}
