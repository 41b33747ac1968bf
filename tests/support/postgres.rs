//! The test server's PostgreSQL major version and the client programs that match it, so no
//! test is bound to one major: the suite follows whatever `TEST_DATABASE_URL` runs.

use std::path::PathBuf;

use tokio::sync::OnceCell;

/// The test server's major version (15 for 15.4, 16 for 16.2), asked once per test binary.
pub async fn server_major() -> u32 {
    static MAJOR: OnceCell<u32> = OnceCell::const_new();
    *MAJOR
        .get_or_init(|| async {
            let client = super::connect(&super::server_url()).await;
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

/// `/usr/lib/postgresql/{major}/bin` for the test server's major, where Debian and Ubuntu
/// (and PGDG's packages) put pg_dump, pg_restore, psql, initdb and pg_ctl.
pub async fn pg_bin_dir() -> PathBuf {
    PathBuf::from(format!("/usr/lib/postgresql/{}/bin", server_major().await))
}

/// A client or server program of the test server's major, which must be installed: a test
/// needing it fails with the package to install rather than run another major's program.
pub async fn pg_program(name: &str) -> PathBuf {
    let path = pg_bin_dir().await.join(name);
    assert!(
        path.exists(),
        "{} is missing: install the PostgreSQL {major} client (Debian/Ubuntu: \
         postgresql-client-{major}; initdb and pg_ctl are in postgresql-{major})",
        path.display(),
        major = server_major().await
    );
    path
}
