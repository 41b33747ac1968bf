//! [`Applied`]: one row of the history, as every engine records it (refinery's layout:
//! version, name, when, checksum).

/// The history's table on every engine: refinery's name, so either tool reads the other's.
pub const HISTORY_TABLE: &str = "refinery_schema_history";

/// One row of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Schema version.
    pub version: i64,
    /// Name as recorded.
    pub name: String,
    /// When, as refinery records it (RFC 3339).
    pub applied_on: String,
    /// refinery's checksum, or `None` when the stored text is not a number.
    pub checksum: Option<u64>,
}
