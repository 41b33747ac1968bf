//! Restore: bring the database back **exactly** to a backup, all or nothing.
//!
//! `pg_restore --clean` only drops the objects the dump contains, so a table added by a later
//! migration would survive. Instead, in **one transaction** run by `psql`:
//! 1. keep the audit trail aside (a temporary table), so that it survives (DESIGN §18);
//! 2. drop every schema a migration could have made, `CASCADE` (everything after the dump
//!    goes); schemas an extension created, or owned by a role we are not a member of (a
//!    cloud provider's), are kept as they are, and their entries left out of the replay;
//! 3. recreate `public` as PostgreSQL creates it (owner `pg_database_owner`, `USAGE` for
//!    everyone on 15+; `ALL` for everyone before), since dumps do not contain it;
//! 4. replay the dump's SQL (`pg_restore --single-transaction --file=-`: schemas, tables,
//!    rows, owners, grants; `--single-transaction` also keeps large objects from committing
//!    on their own);
//! 5. put back the audit rows written after the dump, then `COMMIT`.
//!
//! We send the transaction's `BEGIN` and `COMMIT` ourselves, and the `COMMIT` only once
//! `pg_restore` has exited 0 and psql has run every statement before it (psql echoes a
//! marker when it gets there): psql takes the end of its input as the end of the script,
//! so a script cut short (pg_restore killed, a truncated dump, schemagate itself killed)
//! must never be followed by a `COMMIT`. Without one, the session ends and the server rolls
//! the transaction back. Any error stops psql (`ON_ERROR_STOP`) with the same effect: the
//! database is either the dump or untouched, never half-dropped.
//!
//! Before starting, a restore refuses what it could not make exact or could not finish: a
//! dump that is not a regular file or whose size or sha256 differs from its manifest, a dump
//! of another database (unless `--into-other-database`), objects that live outside schemas
//! (event triggers, publications, subscriptions, foreign servers, casts; unless
//! `--keep-global-objects`, which leaves them as they are and replays none of the dump's),
//! and a dump needing more locks than one transaction can hold. The database itself is not
//! dropped (we are connected to it, and so may the application be); database-level settings
//! and roles are outside a database dump and are left alone. The drops wait at most
//! `lock_timeout` (1 min) for sessions using the tables.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use std::io::Read as _;
use std::process::ExitStatus;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio_postgres::Client;

use super::toc::{self, Keep};
use super::tools;
use crate::backup::process::{self, Tail};
use crate::backup::tools::Tool;
use crate::backup::{Backup, BackupError, RestoreOptions, RestorePlan};
use crate::input;
use crate::postgres::audit;
use crate::postgres::connection::Connection;
use crate::stop::Stop;

/// Entry types of the dump that each take a lock when the replay creates them.
const LOCKING_TYPES: &[&str] = &[
    "TABLE",
    "INDEX",
    "SEQUENCE",
    "VIEW",
    "MATERIALIZED VIEW",
    "FOREIGN TABLE",
];

/// How much of pg_restore's script is held back until it has exited: its closing `COMMIT`
/// and what follows it (a comment and `\unrestrict`) are a few hundred bytes.
const HELD_BACK: usize = 64 * 1024;

/// Read size from pg_restore's stdout, and of the dump while it is hashed.
const CHUNK: usize = 256 * 1024;

/// What psql echoes once it has run every statement before the `COMMIT`.
const READY: &str = "schemagate: ready to commit";

impl RestorePlan {
    /// Reads the manifest beside `file`, checks the file's size and sha256 against it
    /// (dropping the future stops the hashing), reads the dump's table of contents, and looks at the target database: which schemas go, which
    /// stay, what lives outside schemas, how many locks it takes.
    pub async fn new(
        client: &Client,
        file: &Path,
        pg_dump: Option<&Path>,
    ) -> Result<Self, BackupError> {
        let backup = Backup::load(file)?;
        check_dump(&backup).await?;
        let server = tools::server(client).await?;
        let list = table_of_contents(file, server.major, pg_dump).await?;
        let (schemas, kept) = classify_schemas(client).await?;
        let kept_names: Vec<&str> = kept.iter().map(|(name, _)| name.as_str()).collect();
        let kept_extensions = texts(
            client
                .query(
                    "SELECT e.extname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace \
                     WHERE n.nspname = ANY($1) ORDER BY 1",
                    &[&kept_names],
                )
                .await,
            "list the extensions of kept schemas",
        )?;
        let globals = texts(
            client.query(GLOBALS, &[]).await,
            "list the objects outside schemas",
        )?;
        let dropped = relations_in(client, &schemas).await?;
        let created = toc::count(&list, LOCKING_TYPES);
        let lock_table = lock_table(client).await?;
        let audit = client
            .query_one("SELECT to_regclass('schemagate_audit') IS NOT NULL", &[])
            .await
            .map_err(|e| BackupError::query("look for the audit trail", &e))?
            .get(0);
        Ok(Self {
            backup,
            database: server.database.clone(),
            schemas,
            kept,
            kept_extensions,
            globals,
            audit,
            locks_needed: dropped + u64::try_from(created).unwrap_or(u64::MAX),
            list,
            lock_table,
            server,
            one_transaction: true,
        })
    }

    /// What the replay leaves out.
    fn keep(&self, options: RestoreOptions) -> Keep<'_> {
        Keep {
            schemas: self.kept.iter().map(|(name, _)| name.as_str()).collect(),
            extensions: self.kept_extensions.iter().map(String::as_str).collect(),
            globals: options.keep_global_objects,
        }
    }

    /// The SQL run before the dump's: the transaction's start, the audit trail kept aside,
    /// the drops. Messages below errors are silenced until the dump's own settings raise
    /// them to warnings: the dump's `BEGIN` warns that a transaction is already open.
    fn prelude(&self) -> String {
        let mut sql =
            String::from("BEGIN;\nSET client_min_messages = error;\nSET lock_timeout = '1min';\n");
        sql.push_str(&audit::keep_before_restore(self.audit));
        for schema in &self.schemas {
            sql.push_str(&format!("DROP SCHEMA {} CASCADE;\n", quote_ident(schema)));
        }
        // A `public` of a role we are not a member of is kept as it is (`classify_schemas`):
        // before 15 it is the bootstrap superuser's, so a database owner who is no
        // superuser neither drops nor recreates it.
        if self.kept.iter().any(|(name, _)| name == "public") {
            return sql;
        }
        if self.server.major >= 15 {
            sql.push_str("CREATE SCHEMA public AUTHORIZATION pg_database_owner;\nGRANT USAGE ON SCHEMA public TO PUBLIC;\n");
        } else {
            sql.push_str("CREATE SCHEMA public;\nGRANT ALL ON SCHEMA public TO PUBLIC;\n");
        }
        sql.push_str("COMMENT ON SCHEMA public IS 'standard public schema';\n");
        sql
    }
}

/// The SQL run after the dump's, before the `COMMIT`: the session's own `search_path` back
/// (the dump empties it), the audit rows written after the dump, and the marker psql echoes
/// once it has run all of it.
fn postlude() -> String {
    format!(
        "RESET search_path;\n{}\\echo {READY}\n",
        audit::merge_after_restore()
    )
}

/// Objects outside schemas, made by users (not by an extension), one text each.
const GLOBALS: &str = "\
    SELECT 'event trigger ' || evtname FROM pg_event_trigger o \
      WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_event_trigger'::regclass AND d.objid = o.oid AND d.deptype = 'e') \
    UNION ALL SELECT 'publication ' || pubname FROM pg_publication \
    UNION ALL SELECT 'subscription ' || subname FROM pg_subscription \
      WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
    UNION ALL SELECT 'foreign server ' || srvname FROM pg_foreign_server o \
      WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_foreign_server'::regclass AND d.objid = o.oid AND d.deptype = 'e') \
    UNION ALL SELECT 'cast (' || format_type(castsource, NULL) || ' AS ' || format_type(casttarget, NULL) || ')' FROM pg_cast o \
      WHERE o.oid >= 16384 AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_cast'::regclass AND d.objid = o.oid AND d.deptype = 'e') \
    ORDER BY 1";

/// The schemas to drop, and those to keep with the reason: made by an extension, or owned
/// by a role the current user is not a member of (a provider's: `rdsadmin`, `cloudsqladmin`).
async fn classify_schemas(
    client: &Client,
) -> Result<(Vec<String>, Vec<(String, String)>), BackupError> {
    let rows = client
        .query(
            "SELECT n.nspname::text, \
                    (SELECT 'created by extension ' || e.extname FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid \
                      WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e' LIMIT 1), \
                    CASE WHEN pg_has_role(current_user, n.nspowner, 'USAGE') THEN NULL \
                         ELSE 'owned by ' || pg_get_userbyid(n.nspowner) END \
             FROM pg_namespace n \
             WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1",
            &[],
        )
        .await
        .map_err(|e| BackupError::query("list the schemas", &e))?;
    let mut dropped = Vec::new();
    let mut kept = Vec::new();
    for row in rows {
        let name: String = row.get(0);
        match row.get::<_, Option<String>>(1).or(row.get(2)) {
            Some(reason) => kept.push((name, reason)),
            None => dropped.push(name),
        }
    }
    Ok((dropped, kept))
}

/// The first column of a query's rows, as text.
fn texts(
    rows: Result<Vec<tokio_postgres::Row>, tokio_postgres::Error>,
    action: &'static str,
) -> Result<Vec<String>, BackupError> {
    rows.map(|rows| rows.iter().map(|row| row.get(0)).collect())
        .map_err(|e| BackupError::query(action, &e))
}

/// Relations (each a lock when dropped) in the schemas to drop.
async fn relations_in(client: &Client, schemas: &[String]) -> Result<u64, BackupError> {
    let row = client
        .query_one(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY($1)",
            &[&schemas],
        )
        .await
        .map_err(|e| BackupError::query("count the relations to drop", &e))?;
    Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
}

/// `max_locks_per_transaction` and the slots it is multiplied by.
pub(crate) async fn lock_table(client: &Client) -> Result<(u64, u64), BackupError> {
    let row = client
        .query_one(
            "SELECT current_setting('max_locks_per_transaction')::int8, \
                    current_setting('max_connections')::int8 + current_setting('max_prepared_transactions')::int8",
            &[],
        )
        .await
        .map_err(|e| BackupError::query("read the lock settings", &e))?;
    let get = |i| u64::try_from(row.get::<_, i64>(i)).unwrap_or(0);
    Ok((get(0), get(1)))
}

/// `pg_restore --list` of the dump.
async fn table_of_contents(
    file: &Path,
    major: u32,
    pg_dump: Option<&Path>,
) -> Result<String, BackupError> {
    let pg_restore = tools::beside("pg_restore", major, pg_dump).await?;
    let output = tools::command(&pg_restore)
        .arg("--list")
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .map_err(pg_restore.failed())?;
    if !output.status.success() {
        return Err(BackupError::RestoreFailed {
            file: file.to_owned(),
            reason: format!(
                "pg_restore --list failed ({}), so the restore did not start: {}",
                process::describe(output.status),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Replays the plan (see the module docs). The caller holds the migration lock. A `stop`
/// before the `COMMIT` is sent ends it at once (psql is killed, so nothing is committed);
/// after, psql is left to finish the `COMMIT`, which takes moments.
#[tracing::instrument(skip_all, fields(file = %plan.backup.path.display(), database = %plan.database))]
pub(crate) async fn restore(
    plan: &RestorePlan,
    options: RestoreOptions,
    url: &Connection,
    application_name: &str,
    pg_dump: Option<&Path>,
    stop: &Stop,
) -> Result<(), BackupError> {
    let major = plan.server.major;
    let pg_restore = tools::beside("pg_restore", major, pg_dump).await?;
    let psql = tools::beside("psql", major, pg_dump).await?;
    let file: PathBuf = plan.backup.path.clone();
    let keep = plan.keep(options);
    // Dropped (and the file removed) when the restore ends, whichever way.
    let use_list = if keep.is_empty() {
        None
    } else {
        Some(write_list(&keep.filter(&plan.list))?)
    };

    let (mut script, script_out, script_stderr) =
        spawn_script(&pg_restore, &file, use_list.as_ref().map(|l| l.path()))?;
    let mut command = tools::command(&psql);
    command
        .args([
            "--no-psqlrc",
            "--quiet",
            "--no-password",
            "--set=ON_ERROR_STOP=1",
            "--output=/dev/null",
            "--file=-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let _passfile = tools::connect_env(&mut command, url, application_name)?;
    let mut apply = command.spawn().map_err(psql.failed())?;
    let apply_stderr = Tail::spawn(apply.stderr.take());
    let (Some(mut stdin), Some(stdout)) = (apply.stdin.take(), apply.stdout.take()) else {
        return Err(psql.failed()(no_pipe()));
    };

    let fed = tokio::select! {
        fed = feed(plan, &mut stdin, stdout, script_out, &mut script) => fed,
        signal = stop.wait() => return Err(BackupError::Stopped { signal }),
    };
    if fed.is_ok() {
        // Every statement has run: the COMMIT is all that is left.
        let _ = stdin.write_all(b"COMMIT;\n").await;
    }
    // The end of psql's input: without a COMMIT, the session ends and the server rolls
    // the transaction back.
    drop(stdin);
    if matches!(fed, Err(Unfinished::Apply)) {
        let _ = script.start_kill();
    }
    let apply_status = apply.wait().await.map_err(psql.failed())?;
    let psql_said = || async {
        format!(
            "psql: {}: {}",
            process::describe(apply_status),
            url.scrub(&apply_stderr.text().await)
        )
    };
    let reason = match fed {
        Ok(()) if apply_status.success() => {
            tracing::info!("restore done");
            return Ok(());
        }
        // ON_ERROR_STOP: the COMMIT itself failed, and the server rolled back.
        Ok(()) if apply_status.code() == Some(3) => psql_said().await,
        Ok(()) => {
            return Err(BackupError::CommitUnknown {
                file,
                schema_version: plan.backup.manifest.schema_version,
                stderr: psql_said().await,
            });
        }
        Err(Unfinished::Script(status)) => format!(
            "pg_restore failed ({}) before the end of the dump, so psql was given no COMMIT; pg_restore: {}",
            status.map_or_else(|| "unknown status".to_owned(), process::describe),
            script_stderr.text().await
        ),
        Err(Unfinished::NoCommit) => "pg_restore's script did not end with the COMMIT that --single-transaction writes, so psql was given none".to_owned(),
        Err(Unfinished::Apply) => psql_said().await,
    };
    Err(BackupError::RestoreFailed { file, reason })
}

/// pg_restore writing the dump's script (`--use-list` when given) on its stdout, in one
/// transaction: `--single-transaction` keeps large objects from committing on their own.
fn spawn_script(
    pg_restore: &Tool,
    file: &Path,
    use_list: Option<&Path>,
) -> Result<(Child, ChildStdout, Tail), BackupError> {
    let mut command = tools::command(pg_restore);
    if let Some(list) = use_list {
        command.arg("--use-list").arg(list);
    }
    let mut script = command
        .args(["--single-transaction", "--file=-"])
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(pg_restore.failed())?;
    let stderr = Tail::spawn(script.stderr.take());
    let out = script
        .stdout
        .take()
        .ok_or_else(|| pg_restore.failed()(no_pipe()))?;
    Ok((script, out, stderr))
}

/// A child spawned with a pipe that is not there.
fn no_pipe() -> std::io::Error {
    std::io::Error::other("no pipe to the child")
}

/// Why the transaction was not brought to its `COMMIT`.
enum Unfinished {
    /// pg_restore failed, or its output could not be read: its exit status, if known.
    Script(Option<ExitStatus>),
    /// pg_restore's script lacks the `COMMIT` `--single-transaction` ends it with.
    NoCommit,
    /// psql stopped reading its input: an error stopped it.
    Apply,
}

/// Gives psql the transaction up to, not including, its `COMMIT`: the prelude, pg_restore's
/// script but for its tail (held back until pg_restore has exited 0), the tail without the
/// script's own `COMMIT`, the postlude; then waits for psql's marker that all of it ran.
async fn feed(
    plan: &RestorePlan,
    stdin: &mut ChildStdin,
    stdout: ChildStdout,
    mut script_out: ChildStdout,
    script: &mut Child,
) -> Result<(), Unfinished> {
    let apply = |written: std::io::Result<()>| written.map_err(|_| Unfinished::Apply);
    apply(stdin.write_all(plan.prelude().as_bytes()).await)?;
    let mut held = Vec::with_capacity(HELD_BACK + CHUNK);
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = match script_out.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(_) => {
                let _ = script.start_kill();
                break;
            }
        };
        held.extend_from_slice(&chunk[..n]);
        if held.len() > HELD_BACK {
            let ready = held.len() - HELD_BACK;
            apply(stdin.write_all(&held[..ready]).await)?;
            held.drain(..ready);
        }
    }
    let status = script.wait().await.ok();
    if !status.is_some_and(|status| status.success()) {
        return Err(Unfinished::Script(status));
    }
    let (body, trailer) = without_commit(&held).ok_or(Unfinished::NoCommit)?;
    apply(stdin.write_all(body).await)?;
    apply(stdin.write_all(trailer).await)?;
    apply(stdin.write_all(postlude().as_bytes()).await)?;
    apply(stdin.flush().await)?;
    if ready(stdout).await {
        Ok(())
    } else {
        Err(Unfinished::Apply)
    }
}

/// The end of pg_restore's script around its last `COMMIT;` line, which it leaves out.
fn without_commit(tail: &[u8]) -> Option<(&[u8], &[u8])> {
    const COMMIT: &[u8] = b"\nCOMMIT;\n";
    let at = tail.windows(COMMIT.len()).rposition(|w| w == COMMIT)?;
    Some((&tail[..=at], &tail[at + COMMIT.len()..]))
}

/// Whether psql echoed [`READY`]; `false` when its output ends first (an error stopped it).
/// Query results go to `/dev/null`, so its output holds only what `\echo` prints.
async fn ready(stdout: ChildStdout) -> bool {
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line == READY {
            return true;
        }
    }
    false
}

/// The filtered table of contents in a private temporary file for `--use-list`.
fn write_list(list: &str) -> Result<tempfile::NamedTempFile, BackupError> {
    use std::io::Write as _;
    let mut file =
        tempfile::NamedTempFile::new().map_err(BackupError::io("create", std::env::temp_dir()))?;
    file.write_all(list.as_bytes())
        .and_then(|()| file.flush())
        .map_err(BackupError::io("write", file.path().to_owned()))?;
    Ok(file)
}

/// `"name"` with inner quotes doubled.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Checks the dump against its manifest: a regular file, then its size (a damaged or
/// foreign file is told at once, not after reading gigabytes), then its sha256.
async fn check_dump(backup: &Backup) -> Result<(), BackupError> {
    let (dump, size) = input::open_regular(&backup.path)?;
    let manifest = &backup.manifest;
    if size != manifest.size_bytes {
        return Err(BackupError::SizeMismatch {
            file: backup.path.clone(),
            expected: manifest.size_bytes,
            actual: size,
        });
    }
    let actual = sha256_of(dump, &backup.path).await?;
    if actual != manifest.sha256 {
        return Err(BackupError::ChecksumMismatch {
            file: backup.path.clone(),
            expected: manifest.sha256.clone(),
            actual,
        });
    }
    Ok(())
}

/// The file's sha256, hex, read off the async workers. Dropping the future stops the
/// reading at the next chunk: the runtime waits for blocking work before the process can
/// exit, so a stop must reach it.
async fn sha256_of(file: std::fs::File, path: &Path) -> Result<String, BackupError> {
    /// Tells the reading to stop when the future is dropped, whichever way it ends.
    struct StopOnDrop(Arc<AtomicBool>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let stopped = StopOnDrop(Arc::new(AtomicBool::new(false)));
    let flag = Arc::clone(&stopped.0);
    let shown = path.to_owned();
    tokio::task::spawn_blocking(move || hash(file, &shown, &flag))
        .await
        .unwrap_or_else(|e| Err(BackupError::io("hash", path)(std::io::Error::other(e))))
}

/// Hashes `file` chunk by chunk until its end or until `stopped`.
fn hash(mut file: std::fs::File, path: &Path, stopped: &AtomicBool) -> Result<String, BackupError> {
    let mut hasher = Sha256::new();
    let mut chunk = vec![0u8; CHUNK];
    loop {
        if stopped.load(Ordering::Relaxed) {
            return Err(BackupError::io("hash", path)(std::io::Error::from(
                std::io::ErrorKind::Interrupted,
            )));
        }
        match file.read(&mut chunk) {
            Ok(0) => return Ok(hex::encode(hasher.finalize())),
            Ok(n) => hasher.update(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(BackupError::io("read", path)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::{RestoreRefusal, Server};

    fn plan(database: &str, locks_needed: u64, globals: &[&str]) -> RestorePlan {
        let server = Server {
            database: "app".to_owned(),
            major: 15,
            version: "15.0".to_owned(),
            system_identifier: Some("7".to_owned()),
        };
        let manifest = crate::backup::Manifest {
            engine: "postgresql".to_owned(),
            file: "app-schema1-20260102T020405.678Z.dump".to_owned(),
            app_version: "v1.0.0".to_owned(),
            schema_version: 1,
            database: database.to_owned(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            size_bytes: 1,
            sha256: String::new(),
            duration_seconds: 0.0,
            pg_dump_version: String::new(),
            server_version: String::new(),
            system_identifier: Some("7".to_owned()),
        };
        RestorePlan {
            backup: Backup {
                path: PathBuf::from(&manifest.file),
                manifest,
            },
            database: "app".to_owned(),
            schemas: vec!["public".to_owned()],
            kept: Vec::new(),
            kept_extensions: Vec::new(),
            globals: globals.iter().map(|g| (*g).to_owned()).collect(),
            audit: true,
            list: String::new(),
            locks_needed,
            lock_table: (64, 100),
            server,
            one_transaction: true,
        }
    }

    #[test]
    fn a_restore_needing_more_locks_than_the_lock_table_holds_is_refused_naming_the_setting() {
        let options = RestoreOptions::default();
        assert!(plan("app", 6_400, &[]).refusal(options).is_none());
        let refusal = plan("app", 6_401, &[])
            .refusal(options)
            .unwrap()
            .to_string();
        assert!(
            refusal.contains("about 6401 locks")
                && refusal.contains("holds 6400")
                && refusal.contains("Raise max_locks_per_transaction to at least 130"),
            "{refusal}"
        );
    }

    #[test]
    fn another_database_and_global_objects_are_refused_unless_allowed() {
        let other = plan("billing", 1, &[]);
        assert!(matches!(
            other.refusal(RestoreOptions::default()),
            Some(RestoreRefusal::OtherDatabase { .. })
        ));
        let allowed = RestoreOptions {
            into_other_database: true,
            ..RestoreOptions::default()
        };
        assert!(other.refusal(allowed).is_none());
        let globals = plan("app", 1, &["publication p"]);
        assert!(matches!(
            globals.refusal(RestoreOptions::default()),
            Some(RestoreRefusal::GlobalObjects { .. })
        ));
        let keep = RestoreOptions {
            keep_global_objects: true,
            ..RestoreOptions::default()
        };
        assert!(globals.refusal(keep).is_none());
    }

    #[test]
    fn public_is_recreated_as_the_major_makes_it_unless_it_is_kept() {
        let mut plan = plan("app", 1, &[]);
        assert!(
            plan.prelude()
                .contains("CREATE SCHEMA public AUTHORIZATION pg_database_owner;"),
            "{}",
            plan.prelude()
        );
        plan.server.major = 13;
        assert!(
            plan.prelude()
                .contains("CREATE SCHEMA public;\nGRANT ALL ON SCHEMA public TO PUBLIC;"),
            "{}",
            plan.prelude()
        );
        plan.schemas.clear();
        plan.kept = vec![("public".to_owned(), "owned by postgres".to_owned())];
        assert!(
            !plan.prelude().contains("SCHEMA public"),
            "{}",
            plan.prelude()
        );
    }

    #[test]
    fn the_scripts_closing_commit_is_left_out_and_what_follows_it_kept() {
        let tail = b"COPY t FROM stdin;\nCOMMIT;\n\\.\n\nCOMMIT;\n\n-- done\n\\unrestrict k\n";
        let (body, trailer) = without_commit(tail).unwrap();
        assert_eq!(body, b"COPY t FROM stdin;\nCOMMIT;\n\\.\n\n");
        assert_eq!(trailer, b"\n-- done\n\\unrestrict k\n");
        assert!(without_commit(b"COPY t FROM stdin;\n1\n").is_none());
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("public"), "\"public\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }
}
