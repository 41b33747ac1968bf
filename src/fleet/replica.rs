//! A row of the `schemagate_fleet` table, and the table's name: what the table, the
//! admission rule, the summary and the errors all speak of, so none of them depends on
//! another for it.

/// The table's name.
pub(crate) const TABLE: &str = "schemagate_fleet";

/// A live row of the table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Replica {
    /// The instance's random id.
    pub id: String,
    /// Where it runs.
    pub host: String,
    /// Its release, as it wrote it (`v1.3.0`).
    pub app_version: String,
    /// Oldest schema version it runs on, by its own `compat.toml`.
    pub min: i64,
    /// Newest schema version it runs on, by its own `compat.toml`.
    pub max: i64,
    /// Its refresh interval in milliseconds.
    pub refresh_ms: i64,
    /// Its first announce (RFC 3339, UTC).
    pub started_at: String,
    /// Its latest announce (RFC 3339, UTC).
    pub last_seen: String,
}
