//! refinery's checksum, in every configuration refinery has written it.
//!
//! refinery hashes name, version and SQL with SipHash-1-3, its version being an `i32`
//! (default) or an `i64` (feature `int8-versions`), and its SQL the file as read, so a
//! checkout with CRLF line endings hashes differently from one with LF. A history row is
//! accepted when it matches any of these; a new row gets the `i64` hash of the LF text,
//! which refinery built with `int8-versions` computes for the same (LF) files.

use std::hash::{Hash as _, Hasher as _};

use siphasher::sip::SipHasher13;

/// refinery's checksum of a migration `name` at `version` with `sql`, hashing the version
/// as refinery's `SchemaVersion` of the given width does.
fn refinery(name: &str, version: impl std::hash::Hash, sql: &str) -> u64 {
    let mut hasher = SipHasher13::new();
    name.hash(&mut hasher);
    version.hash(&mut hasher);
    sql.hash(&mut hasher);
    hasher.finish()
}

/// The checksum schemagate writes: the `i64` width over the LF-normalised SQL.
pub(super) fn written(name: &str, version: i64, sql_lf: &str) -> u64 {
    refinery(name, version, sql_lf)
}

/// Every checksum a row of this migration may carry: both integer widths (the `i32` one
/// only when the version fits), over the SQL with LF and with CRLF line endings.
pub(super) fn accepted(name: &str, version: i64, sql_lf: &str) -> Vec<u64> {
    let crlf = sql_lf.replace('\n', "\r\n");
    let mut all = Vec::with_capacity(4);
    for sql in [sql_lf, crlf.as_str()] {
        all.push(refinery(name, version, sql));
        if let Ok(narrow) = i32::try_from(version) {
            all.push(refinery(name, narrow, sql));
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use refinery_core::Migration as RefineryMigration;

    /// refinery's own function (built here without `int8-versions`) is the oracle for the
    /// `i32` width.
    fn refinery_i32(version: i32, name: &str, sql: &str) -> u64 {
        RefineryMigration::unapplied(&format!("V{version}__{name}"), sql)
            .unwrap()
            .checksum()
    }

    #[test]
    fn the_i32_width_is_refinerys_own_checksum_for_lf_and_crlf_files() {
        let lf = "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n";
        let crlf = lf.replace('\n', "\r\n");
        let accepted = accepted("create_t", 7, lf);
        assert!(accepted.contains(&refinery_i32(7, "create_t", lf)));
        assert!(accepted.contains(&refinery_i32(7, "create_t", &crlf)));
    }

    #[test]
    fn the_i64_width_hashes_eight_bytes_and_is_what_is_written() {
        let sql = "SELECT 1;\n";
        assert_ne!(written("x", 7, sql), refinery_i32(7, "x", sql));
        assert!(accepted("x", 7, sql).contains(&written("x", 7, sql)));
        // A timestamp version has no i32 width: two checksums (LF, CRLF).
        assert_eq!(accepted("x", 20_240_120_120_000, sql).len(), 2);
    }
}
