//! What a command must leave untouched, captured whole: the database (every schema, row and
//! audit entry, as `pg_dump` prints it) and the backup directory (every file's bytes).

use std::path::Path;

/// A database and a backup directory at one moment.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// `pg_dump` (schema and data) of the database, without its per-run `\restrict` keys.
    pub database: String,
    /// Every file of the backup directory with its bytes, sorted by name.
    pub files: Vec<(String, Vec<u8>)>,
}

impl Snapshot {
    /// Captures the database at `url` and the directory `dir` (absent counts as empty).
    pub async fn take(url: &str, dir: &Path) -> Self {
        let database = pg_dump_text(url, &[]).await;
        let files = super::files(dir)
            .into_iter()
            .map(|name| {
                let bytes = std::fs::read(dir.join(&name)).unwrap();
                (name, bytes)
            })
            .collect();
        Self { database, files }
    }
}

/// The real `pg_dump` of the database at `url` with `args` added, as text without its per-run
/// `\restrict` key lines (which differ between two dumps of the same database); a failed
/// dump fails the test.
pub async fn pg_dump_text(url: &str, args: &[&str]) -> String {
    let output = tokio::process::Command::new(super::pg_program("pg_dump").await)
        .args(["--dbname", url])
        .args(args)
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "pg_dump {args:?}: {output:?}");
    let text = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n");
    if super::server_major().await < 15 {
        text.replace(PUBLIC_DEFAULT_GRANT, "")
    } else {
        text
    }
}

/// Before 15, `public` grants everything to everyone, and pg_dump leaves that out only for
/// the `public` initdb made (whose privileges `pg_init_privs` records): a restore, which
/// recreates `public` with the same grant, makes pg_dump print it. The privileges are the
/// same, so a comparison leaves the block out.
const PUBLIC_DEFAULT_GRANT: &str = "--\n-- Name: SCHEMA public; Type: ACL; Schema: -; Owner: postgres\n--\n\nGRANT ALL ON SCHEMA public TO PUBLIC;\n\n\n";
