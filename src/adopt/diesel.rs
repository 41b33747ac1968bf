//! diesel (`diesel migration run`, `embed_migrations!` + `run_pending_migrations`):
//! `__diesel_schema_migrations`, one row per applied version.
//!
//! diesel_migrations creates `(version VARCHAR(50) PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT
//! NULL DEFAULT CURRENT_TIMESTAMP)`, inserts the version (the migration directory's name
//! before its first `_`, dashes removed: `20190226002946`, or `201902260029460000` with the
//! counter of newer diesels) in the migration's transaction and deletes it on revert, so
//! every row is an applied migration and there is no failed state. It orders versions as
//! text; [`crate::catalogue::diesel_version`] maps them to ours, in the same order. The table
//! is left in place: a diesel application's own migrations may refer to it.

/// Whether the columns are diesel's.
pub(crate) fn has_layout(columns: &[String]) -> bool {
    ["version", "run_on"]
        .iter()
        .all(|c| columns.iter().any(|have| have == c))
}
