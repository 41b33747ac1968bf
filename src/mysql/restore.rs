//! Restoring a backup over the live database with the `mariadb`/`mysql` client.
//!
//! A restore brings the database back exactly to the dump: the dump is checked against
//! its manifest (size, SHA-256) before anything changes, then every object of the
//! database except schemagate's own tables is dropped (tables created after the dump must
//! not survive) and the dump loaded.
//!
//! DDL commits by itself, so a restore cannot be one transaction. Before it drops anything
//! it writes a row into `schemagate_restore` naming the dump and the backup taken just
//! before the restore, and it drops that table only once the client loaded the dump
//! whole. While the row is there (the client failed or was killed, schemagate was
//! killed, the server went away) the database may hold part of a dump, and every run
//! refuses it ([`interrupted`]) until a restore finishes.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;

use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use sha2::{Digest as _, Sha256};

use super::client;
use super::dump::{DumpError, options_scrubbed, server};
use super::options::Options;
use crate::backup::process::Tail;
use crate::backup::{Backup, RestorePlan, Server};

/// Loading failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    #[error(transparent)]
    Dump(#[from] DumpError),
    #[error(
        "{file} does not match its manifest ({what}): it was changed or damaged since it was taken; nothing was changed"
    )]
    Damaged { file: String, what: String },
    #[error("loading {file} into {database} failed ({status}): {stderr}")]
    Failed {
        file: String,
        database: String,
        status: String,
        stderr: String,
    },
    #[error("cannot {action}: {message}")]
    Query {
        action: &'static str,
        message: String,
    },
    /// A failure after the first drop: the database holds part of the dump.
    #[error("{failure}; {interrupted}")]
    PartRestored {
        failure: Box<LoadError>,
        interrupted: Interrupted,
    },
}

/// The table that says a restore is under way (see the module docs).
const MARKER: &str = "schemagate_restore";

/// Created when a restore begins; dropped when it finished.
const CREATE_MARKER: &str = "CREATE TABLE IF NOT EXISTS schemagate_restore (
    file        TEXT        NOT NULL,
    undo_backup TEXT,
    started_at  DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6)
) ENGINE=InnoDB";

/// The server's "table does not exist".
const NO_SUCH_TABLE: u16 = 1146;

/// A restore that began and did not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the database is part-restored: the restore of {file} that started at {started_at} did not finish, so the database may hold only part of that dump. Restore a backup whole: `schemagate restore {file} --yes` again{}",
    .undo.as_ref().map_or_else(|| " (no backup was taken before it)".to_owned(), |undo| format!(", or `schemagate restore {undo} --yes`, the backup taken just before it"))
)]
pub(crate) struct Interrupted {
    /// The dump being restored.
    pub file: String,
    /// The backup taken before the restore began, if one was.
    pub undo: Option<String>,
    /// When it began (UTC, RFC 3339).
    pub started_at: String,
}

fn query(action: &'static str) -> impl FnOnce(mysql_async::Error) -> LoadError {
    move |e| LoadError::Query {
        action,
        message: super::error::describe(&e),
    }
}

/// The checks of restoring the dump `file` over the database `conn` is on, in the seam's
/// (PostgreSQL-shaped) plan: the manifest read, size and SHA-256 checked, the server's
/// identity for the refusal of another database's dump, the objects that will be dropped
/// (as "schemas": the database's tables, views and routines), the audit and fleet tables
/// kept. Changes nothing.
pub(crate) async fn plan(
    conn: &mut Conn,
    options: &Options,
    file: &Path,
) -> Result<RestorePlan, LoadError> {
    let backup = Backup::load(file).map_err(|e| LoadError::Query {
        action: "read the backup's manifest",
        message: e.to_string(),
    })?;
    check(&backup)?;
    let (version, uuid) = server(conn).await?;
    let objects = objects(conn).await?;
    let audit = objects.iter().any(|(_, name)| name == "schemagate_audit");
    Ok(RestorePlan {
        one_transaction: false,
        backup,
        database: options.database.clone(),
        schemas: objects
            .iter()
            .filter(|(_, name)| !KEPT.contains(&name.as_str()))
            .map(|(kind, name)| format!("{} {name}", kind.to_ascii_lowercase()))
            .collect(),
        kept: objects
            .iter()
            .filter(|(_, name)| KEPT.contains(&name.as_str()))
            .map(|(_, name)| {
                (
                    name.clone(),
                    "schemagate's own record, kept across a restore".to_owned(),
                )
            })
            .collect(),
        kept_extensions: Vec::new(),
        globals: Vec::new(),
        audit,
        list: String::new(),
        locks_needed: 0,
        lock_table: (0, 0),
        server: Server {
            database: options.database.clone(),
            major: 0,
            version,
            system_identifier: uuid,
        },
    })
}

/// Restores `backup` over the database `conn` is on (the lock's session); `undo` is the
/// backup taken just before, which a failure names.
pub(crate) async fn restore(
    conn: &mut Conn,
    options: &Options,
    backup: &Backup,
    undo: Option<&Path>,
) -> Result<(), LoadError> {
    check(backup)?;
    let interrupted = begin(conn, backup, undo).await?;
    let loaded = async {
        drop_objects(conn).await?;
        load(conn, options, backup).await?;
        conn.query_drop(format!("DROP TABLE {MARKER}"))
            .await
            .map_err(query("mark the restore finished"))
    }
    .await;
    loaded.map_err(|failure| LoadError::PartRestored {
        failure: Box::new(failure),
        interrupted,
    })
}

/// Writes the marker of a restore of `backup` beginning, before anything is dropped.
async fn begin(
    conn: &mut Conn,
    backup: &Backup,
    undo: Option<&Path>,
) -> Result<Interrupted, LoadError> {
    let file = backup.path.display().to_string();
    let undo = undo.map(|u| u.display().to_string());
    conn.query_drop(CREATE_MARKER)
        .await
        .map_err(query("create schemagate_restore"))?;
    conn.query_drop(format!("DELETE FROM {MARKER}"))
        .await
        .map_err(query("clear schemagate_restore"))?;
    conn.exec_drop(
        format!("INSERT INTO {MARKER} (file, undo_backup) VALUES (?, ?)"),
        (file.as_str(), undo.as_deref()),
    )
    .await
    .map_err(query("write schemagate_restore"))?;
    Ok(interrupted(conn).await?.unwrap_or(Interrupted {
        file,
        undo,
        started_at: String::new(),
    }))
}

/// The restore that began on the session's database and did not finish, if any.
pub(crate) async fn interrupted(conn: &mut Conn) -> Result<Option<Interrupted>, LoadError> {
    let row: Result<Option<(String, Option<String>, String)>, _> = conn
        .query_first(format!(
            "SELECT file, undo_backup, DATE_FORMAT(started_at, '%Y-%m-%dT%H:%i:%sZ') FROM {MARKER} ORDER BY started_at DESC LIMIT 1"
        ))
        .await;
    match row {
        Ok(row) => Ok(row.map(|(file, undo, started_at)| Interrupted {
            file,
            undo,
            started_at,
        })),
        Err(mysql_async::Error::Server(e)) if e.code == NO_SUCH_TABLE => Ok(None),
        Err(e) => Err(query("read schemagate_restore")(e)),
    }
}

/// The dump's size and SHA-256 against its manifest.
fn check(backup: &Backup) -> Result<(), LoadError> {
    let file = backup.manifest.file.clone();
    let bytes = std::fs::read(&backup.path).map_err(|e| LoadError::Damaged {
        file: file.clone(),
        what: format!("cannot read it: {e}"),
    })?;
    if bytes.len() as u64 != backup.manifest.size_bytes {
        return Err(LoadError::Damaged {
            file,
            what: format!(
                "{} bytes, the manifest says {}",
                bytes.len(),
                backup.manifest.size_bytes
            ),
        });
    }
    if hex::encode(Sha256::digest(&bytes)) != backup.manifest.sha256 {
        return Err(LoadError::Damaged {
            file,
            what: "its SHA-256 differs".into(),
        });
    }
    Ok(())
}

/// Loads `backup` into `target`'s database with the client of the server's flavour.
async fn load(conn: &mut Conn, target: &Options, backup: &Backup) -> Result<(), LoadError> {
    load_file(conn, target, &backup.path, &backup.manifest.file).await
}

/// Loads the dump at `path` (called `name` in messages) into `target`'s database, on
/// `conn`'s server, with the client of the server's flavour.
pub(crate) async fn load_file(
    conn: &mut Conn,
    target: &Options,
    path: &Path,
    name: &str,
) -> Result<(), LoadError> {
    let (version, _) = server(conn).await?;
    let dump = client::dump_client(&version, None)
        .await
        .map_err(DumpError::from)?;
    let loader = client::load_client(&version, &dump)
        .await
        .map_err(DumpError::from)?;
    let input = std::fs::File::open(path).map_err(|e| LoadError::Damaged {
        file: name.to_owned(),
        what: format!("cannot open it: {e}"),
    })?;
    let (mut command, option_file) = loader.command(target).map_err(DumpError::from)?;
    let mut child = command
        .args(["--batch", "--binary-mode", "--database"])
        .arg(&target.database)
        .stdin(Stdio::from(input))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| DumpError::from(loader.failed()(e)))?;
    drop(option_file);
    let stderr = Tail::spawn(child.stderr.take());
    let status = child
        .wait()
        .await
        .map_err(|e| DumpError::from(loader.failed()(e)))?;
    if status.success() {
        return Ok(());
    }
    Err(LoadError::Failed {
        file: name.to_owned(),
        database: target.database.clone(),
        status: crate::backup::process::describe(status),
        stderr: options_scrubbed(target, stderr.text().await),
    })
}

/// schemagate's own tables, which a restore keeps.
const KEPT: &[&str] = &["schemagate_audit", "schemagate_fleet", MARKER];

/// Every object of the session's database, as (kind, name).
async fn objects(conn: &mut Conn) -> Result<Vec<(String, String)>, LoadError> {
    conn.query(
        "SELECT CASE TABLE_TYPE WHEN 'VIEW' THEN 'VIEW' WHEN 'SEQUENCE' THEN 'SEQUENCE' ELSE 'TABLE' END, TABLE_NAME \
         FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
         UNION ALL SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() \
         UNION ALL SELECT 'EVENT', EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()",
    )
    .await
    .map_err(query("list the database's objects"))
}

/// Drops every object of the session's database but schemagate's audit and fleet tables.
async fn drop_objects(conn: &mut Conn) -> Result<(), LoadError> {
    let objects: Vec<(String, String)> = objects(conn)
        .await?
        .into_iter()
        .filter(|(_, name)| !KEPT.contains(&name.as_str()))
        .collect();
    let kinds: BTreeSet<&str> = objects.iter().map(|(k, _)| k.as_str()).collect();
    tracing::info!(
        objects = objects.len(),
        ?kinds,
        "dropping the database's objects before the restore"
    );
    conn.query_drop("SET SESSION foreign_key_checks = 0")
        .await
        .map_err(query("prepare the restore"))?;
    // Views first: a view over a table may not outlive it on every server version.
    let mut ordered: Vec<&(String, String)> = objects.iter().filter(|(k, _)| k == "VIEW").collect();
    ordered.extend(objects.iter().filter(|(k, _)| k != "VIEW"));
    for (kind, name) in ordered {
        let statement = format!("DROP {kind} IF EXISTS `{}`", name.replace('`', "``"));
        conn.query_drop(statement)
            .await
            .map_err(query("drop an object before the restore"))?;
    }
    conn.query_drop("SET SESSION foreign_key_checks = 1")
        .await
        .map_err(query("prepare the restore"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::mysql::dump::{Request, take};
    use crate::mysql::testing::TestDatabase;

    async fn backup_of(conn: &mut Conn, db: &TestDatabase, dir: &std::path::Path) -> Backup {
        let request = Request {
            options: &db.options,
            dir,
            app_version: "v1".into(),
            schema_version: 1,
            dump_client: None,
            timeout: Duration::from_secs(60),
            verify_restore: false,
        };
        take(conn, &request).await.unwrap()
    }

    #[tokio::test]
    async fn a_restored_dump_gives_the_same_schema_and_rows_and_drops_later_objects() {
        let db = TestDatabase::create().await;
        let mut conn = db.conn().await;
        conn.query_drop(
            "CREATE TABLE p (id INT PRIMARY KEY, b BLOB); CREATE TABLE c (id INT PRIMARY KEY, p INT, FOREIGN KEY (p) REFERENCES p (id)); \
             INSERT INTO p VALUES (1, x'00ff'), (2, NULL); INSERT INTO c VALUES (10, 1); \
             CREATE VIEW v AS SELECT id FROM p; CREATE TABLE schemagate_audit (n INT); INSERT INTO schemagate_audit VALUES (1)",
        )
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let backup = backup_of(&mut conn, &db, dir.path()).await;
        let before = crate::mysql::schema::describe(&mut conn).await.unwrap();

        conn.query_drop(
            "CREATE TABLE later (x INT); DELETE FROM c; UPDATE p SET b = NULL; ALTER TABLE p ADD extra INT; INSERT INTO schemagate_audit VALUES (2)",
        )
        .await
        .unwrap();
        restore(&mut conn, &db.options, &backup, None)
            .await
            .unwrap();
        assert_eq!(
            crate::mysql::schema::describe(&mut conn).await.unwrap(),
            before
        );
        let rows: Vec<(i32, Option<Vec<u8>>)> =
            conn.query("SELECT id, b FROM p ORDER BY id").await.unwrap();
        assert_eq!(rows, [(1, Some(vec![0, 255])), (2, None)]);
        let audit: Vec<i32> = conn
            .query("SELECT n FROM schemagate_audit ORDER BY n")
            .await
            .unwrap();
        assert_eq!(audit, [1, 2], "the audit trail is kept");
    }

    #[tokio::test]
    async fn a_damaged_dump_is_refused_before_anything_changes() {
        let db = TestDatabase::create().await;
        let mut conn = db.conn().await;
        conn.query_drop("CREATE TABLE t (x INT)").await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let backup = backup_of(&mut conn, &db, dir.path()).await;
        let mut text = std::fs::read(&backup.path).unwrap();
        text[0] ^= 1;
        std::fs::write(&backup.path, text).unwrap();
        conn.query_drop("CREATE TABLE later (x INT)").await.unwrap();
        let error = restore(&mut conn, &db.options, &backup, None)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("SHA-256 differs"), "{error}");
        let tables: Vec<String> = conn
            .query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1")
            .await
            .unwrap();
        assert_eq!(tables, ["later", "t"]);
    }
}
