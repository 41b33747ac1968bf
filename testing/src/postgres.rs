//! The test server's PostgreSQL major version and the programs that match it, so no test is
//! bound to one major: the suite follows whatever `TEST_DATABASE_URL` runs.
//!
//! By default both the client programs (pg_dump, pg_restore, psql) and the server programs
//! (initdb, pg_ctl) are Debian's, in `/usr/lib/postgresql/<major>/bin`. The matrix of majors
//! (`.ci/pg-majors`) runs servers from elsewhere and says where with `TEST_PG_SERVER_BIN_DIR`
//! and, where this machine has a client of that major, `TEST_PG_CLIENT_BIN_DIR`.

use std::path::PathBuf;

use tokio::sync::OnceCell;

/// The test server's major version (15 for 15.4, 16 for 16.2), asked once per test binary.
pub async fn server_major() -> u32 {
    static MAJOR: OnceCell<u32> = OnceCell::const_new();
    *MAJOR
        .get_or_init(|| async {
            let client = crate::connect(&crate::server_url()).await;
            let num: String = client
                .query_one("SELECT current_setting('server_version_num')", &[])
                .await
                .unwrap_or_else(|e| panic!("ask the test server its server_version_num: {e}"))
                .get(0);
            let num: u32 = num
                .parse()
                .unwrap_or_else(|e| panic!("server_version_num {num:?} is not a number: {e}"));
            // 150004 is 15.4; majors before 10 (90624) are older than anything supported.
            num / 10_000
        })
        .await
}

/// `dir` from the environment variable `variable`, else `/usr/lib/postgresql/{major}/bin`
/// for the test server's major.
async fn bin_dir(variable: &str) -> PathBuf {
    match std::env::var_os(variable) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(format!("/usr/lib/postgresql/{}/bin", server_major().await)),
    }
}

/// Where the client programs of the test server's major are: pg_dump, pg_restore, psql.
pub async fn pg_bin_dir() -> PathBuf {
    bin_dir("TEST_PG_CLIENT_BIN_DIR").await
}

/// Where the server programs of the test server's major are: initdb, pg_ctl, postgres.
pub async fn pg_server_bin_dir() -> PathBuf {
    bin_dir("TEST_PG_SERVER_BIN_DIR").await
}

/// Whether this machine has a pg_dump of the test server's major. Where it has none (the
/// matrix's 14, 16, 17 and 18), a backup is refused, and the backup tests assert that.
pub async fn has_client() -> bool {
    pg_bin_dir().await.join("pg_dump").is_file()
}

/// A client program of the test server's major, which must be installed: a test
/// needing it fails with the package to install rather than run another major's program.
pub async fn pg_program(name: &str) -> PathBuf {
    let path = pg_bin_dir().await.join(name);
    assert!(
        path.exists(),
        "{} is missing: install the PostgreSQL {major} client (Debian/Ubuntu: \
         postgresql-client-{major}; see .ci/pg-majors for the majors Debian has no client of)",
        path.display(),
        major = server_major().await
    );
    path
}

/// psql, to run plain SQL on the test server: the one of the server's major, else this
/// machine's newest (the matrix's 14, 16, 17 and 18 have none of their own here; psql of
/// another major runs plain SQL against them all the same).
pub async fn psql() -> PathBuf {
    let own = pg_bin_dir().await.join("psql");
    if own.exists() {
        return own;
    }
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|major| machine_psql(*major).exists())
        .max();
    newest.map_or(own, machine_psql)
}

/// Debian's psql of `major`.
fn machine_psql(major: u32) -> PathBuf {
    PathBuf::from(format!("/usr/lib/postgresql/{major}/bin/psql"))
}
