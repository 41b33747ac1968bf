//! sqlx (`sqlx migrate run`, `sqlx::migrate!`): `_sqlx_migrations`, one row per applied
//! version.
//!
//! sqlx-postgres `migrate.rs` creates `version BIGINT PRIMARY KEY, description TEXT,
//! installed_on TIMESTAMPTZ, success BOOLEAN, checksum BYTEA, execution_time BIGINT`. A
//! row with `success = false` is a migration sqlx ran outside a transaction that failed
//! part-way (sqlx itself refuses to go on: "partially applied"). The checksum is SHA-384 of
//! the file's SQL exactly as read (sqlx-core `migrate/migration.rs`), so a CRLF checkout
//! hashes its CRLF text: both line endings are accepted.

use sha2::{Digest, Sha384};

/// Whether the columns are sqlx's.
pub(crate) fn has_layout(columns: &[String]) -> bool {
    ["version", "success", "checksum"]
        .iter()
        .all(|c| columns.iter().any(|have| have == c))
}

/// The checksums sqlx may have stored for a file whose LF-normalised SQL is `sql_lf`: of
/// the file with LF and with CRLF line endings.
pub(crate) fn checksums(sql_lf: &str) -> [Vec<u8>; 2] {
    let crlf = sql_lf.replace('\n', "\r\n");
    [
        Sha384::digest(sql_lf.as_bytes()).to_vec(),
        Sha384::digest(crlf.as_bytes()).to_vec(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_is_sha384_of_the_sql_as_written_with_either_line_ending() {
        // `printf 'SELECT 1;\n' | sha384sum`
        let [lf, crlf] = checksums("SELECT 1;\n");
        assert_eq!(
            hex::encode(&lf),
            "24454095d8d7876ca8e842f34296ca645c83e0f7b50f048c99db4b2ff4da659267afc4ef3e994f3d74e18c741165d931"
        );
        assert_eq!(crlf, Sha384::digest(b"SELECT 1;\r\n").to_vec());
    }
}
