//! Restore: bring the database back **exactly** to a backup.
//!
//! `pg_restore --clean` only drops the objects the dump contains, so a table added by a later
//! migration would survive. Instead, in **one transaction** run by `psql`:
//! 1. drop every schema a migration could have made, `CASCADE` (everything after the dump
//!    goes); schemas an extension created, or owned by a role we are not a member of (a
//!    cloud provider's), are kept as they are, and their entries left out of the replay;
//! 2. recreate `public` as PostgreSQL creates it (owner `pg_database_owner`, `USAGE` for
//!    everyone on 15+; `ALL` for everyone before), since dumps do not contain it;
//! 3. replay the dump's SQL (`pg_restore --file=-`: schemas, tables, rows, owners, grants).
//!
//! Any error stops psql (`ON_ERROR_STOP`) and the transaction rolls back: the database is
//! either the dump or untouched, never half-dropped. Before starting, a restore refuses
//! what it could not make exact or could not finish: a dump of another database (unless
//! `--into-other-database`), objects that live outside schemas (event triggers,
//! publications, subscriptions, foreign servers, casts; unless `--keep-global-objects`,
//! which leaves them as they are and replays none of the dump's), and a dump needing more
//! locks than one transaction can hold. The database itself is not dropped (we are
//! connected to it, and so may the application be); database-level settings and roles are
//! outside a database dump and are left alone. The drops wait at most `lock_timeout`
//! (1 min) for sessions using the tables.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt as _;
use tokio_postgres::Client;

use super::process::{self, Tail};
use super::toc::{self, Keep};
use super::tools::{self, Server, Tool};
use super::{Backup, BackupError};
use crate::connection::Connection;

/// Entry types of the dump that each take a lock when the replay creates them.
const LOCKING_TYPES: &[&str] = &[
    "TABLE",
    "INDEX",
    "SEQUENCE",
    "VIEW",
    "MATERIALIZED VIEW",
    "FOREIGN TABLE",
];

/// How a restore may go beyond the exact case.
#[derive(Debug, Clone, Copy, Default)]
pub struct RestoreOptions {
    /// Restore a dump whose manifest names another database.
    pub into_other_database: bool,
    /// Leave objects outside schemas as they are, and replay none of the dump's.
    pub keep_global_objects: bool,
}

/// Why a restore refuses before it starts; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum RestoreRefusal {
    /// The dump is of another database.
    #[error(
        "{file} is a backup of database {dumped:?}{server}, not of {target:?}; nothing was changed. Point --database-url at {dumped:?}, or add --into-other-database to replace {target:?} with it"
    )]
    OtherDatabase {
        /// The dump.
        file: PathBuf,
        /// The database the manifest names.
        dumped: String,
        /// A note when the server differs too.
        server: String,
        /// The database we are connected to.
        target: String,
    },
    /// Objects outside schemas would survive the restore unchanged.
    #[error(
        "database {database} has objects outside schemas that a restore cannot make exact: {objects}; nothing was changed. Remove them first, or add --keep-global-objects to leave them as they are (the dump's own are then not replayed)",
        objects = objects.join(", ")
    )]
    GlobalObjects {
        /// The database.
        database: String,
        /// The objects, e.g. `publication app_pub`.
        objects: Vec<String>,
    },
    /// The one transaction would need more locks than the server's lock table holds.
    #[error(
        "restoring {file} takes about {needed} locks in one transaction, but the server's lock table holds {capacity} (max_locks_per_transaction {per_transaction} x (max_connections + max_prepared_transactions) {slots}); nothing was changed. Raise max_locks_per_transaction to at least {suggest} (needs a server restart) and try again"
    )]
    TooManyLocks {
        /// The dump.
        file: PathBuf,
        /// Locks the drops and the replay take.
        needed: u64,
        /// What the server can hold.
        capacity: u64,
        /// `max_locks_per_transaction`.
        per_transaction: u64,
        /// `max_connections + max_prepared_transactions`.
        slots: u64,
        /// A setting that would do.
        suggest: u64,
    },
}

/// What a restore will do.
#[derive(Debug, Clone)]
pub struct RestorePlan {
    /// The backup, its checksum verified.
    pub backup: Backup,
    /// The database it goes into.
    pub database: String,
    /// The schemas that will be dropped with everything in them.
    pub schemas: Vec<String>,
    /// Schemas kept as they are, and why.
    pub kept: Vec<(String, String)>,
    /// Extensions living in a kept schema (their entries are not replayed).
    pub kept_extensions: Vec<String>,
    /// Objects outside schemas that the restore cannot make exact.
    pub globals: Vec<String>,
    /// The dump's table of contents (`pg_restore --list`).
    pub list: String,
    /// Locks the transaction takes (relations dropped and created, roughly).
    pub locks_needed: u64,
    /// `max_locks_per_transaction` and `max_connections + max_prepared_transactions`.
    pub lock_table: (u64, u64),
    /// The server.
    pub server: Server,
}

impl RestorePlan {
    /// Reads the manifest beside `file`, checks the file's sha256 against it, reads the
    /// dump's table of contents, and looks at the target database: which schemas go, which
    /// stay, what lives outside schemas, how many locks it takes.
    pub async fn new(
        client: &Client,
        file: &Path,
        pg_dump: Option<&Path>,
    ) -> Result<Self, BackupError> {
        let backup = Backup::load(file)?;
        let actual = sha256_of(file).await?;
        if actual != backup.manifest.sha256 {
            return Err(BackupError::ChecksumMismatch {
                file: file.to_owned(),
                expected: backup.manifest.sha256,
                actual,
            });
        }
        let server = Server::query(client).await?;
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
        Ok(Self {
            backup,
            database: server.database.clone(),
            schemas,
            kept,
            kept_extensions,
            globals,
            locks_needed: dropped + u64::try_from(created).unwrap_or(u64::MAX),
            list,
            lock_table,
            server,
        })
    }

    /// Whether the restore must not start, given `options`.
    pub fn refusal(&self, options: RestoreOptions) -> Option<RestoreRefusal> {
        let manifest = &self.backup.manifest;
        if !options.into_other_database && !manifest.is_of(&self.server.origin()) {
            let server = if manifest.database == self.database {
                " on another server".to_owned()
            } else {
                String::new()
            };
            return Some(RestoreRefusal::OtherDatabase {
                file: self.backup.path.clone(),
                dumped: manifest.database.clone(),
                server,
                target: self.database.clone(),
            });
        }
        if !options.keep_global_objects && !self.globals.is_empty() {
            return Some(RestoreRefusal::GlobalObjects {
                database: self.database.clone(),
                objects: self.globals.clone(),
            });
        }
        let (per_transaction, slots) = self.lock_table;
        let capacity = per_transaction * slots;
        (self.locks_needed > capacity).then(|| RestoreRefusal::TooManyLocks {
            file: self.backup.path.clone(),
            needed: self.locks_needed,
            capacity,
            per_transaction,
            slots,
            suggest: self.locks_needed.div_ceil(slots.max(1)) * 2,
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

    /// The SQL run before the dump's, in the same transaction.
    fn prelude(&self) -> String {
        let mut sql =
            String::from("SET client_min_messages = warning;\nSET lock_timeout = '1min';\n");
        for schema in &self.schemas {
            sql.push_str(&format!("DROP SCHEMA {} CASCADE;\n", quote_ident(schema)));
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
    let pg_restore = Tool::beside("pg_restore", major, pg_dump).await?;
    let output = pg_restore
        .command()
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
            stderr: "not started".to_owned(),
            restore_stderr: format!(
                "pg_restore --list: {}: {}",
                process::describe(output.status),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Replays the plan (see the module docs). The caller holds the migration lock.
#[tracing::instrument(skip_all, fields(file = %plan.backup.path.display(), database = %plan.database))]
pub async fn restore(
    plan: &RestorePlan,
    options: RestoreOptions,
    url: &Connection,
    application_name: &str,
    pg_dump: Option<&Path>,
) -> Result<(), BackupError> {
    let major = plan.server.major;
    let pg_restore = Tool::beside("pg_restore", major, pg_dump).await?;
    let psql = Tool::beside("psql", major, pg_dump).await?;
    let file: PathBuf = plan.backup.path.clone();
    let keep = plan.keep(options);
    // Dropped (and the file removed) when the restore ends, whichever way.
    let use_list = if keep.is_empty() {
        None
    } else {
        Some(write_list(&keep.filter(&plan.list))?)
    };

    let mut script = pg_restore.command();
    if let Some(list) = &use_list {
        script.arg("--use-list").arg(list.path());
    }
    let mut script = script
        .arg("--file=-")
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(pg_restore.failed())?;
    let script_stderr = Tail::spawn(script.stderr.take());
    let mut script_out = script
        .stdout
        .take()
        .ok_or_else(|| pg_restore.failed()(std::io::Error::other("no stdout pipe")))?;

    let mut command = psql.command();
    command
        .args([
            "--no-psqlrc",
            "--quiet",
            "--no-password",
            "--single-transaction",
            "--set=ON_ERROR_STOP=1",
            "--file=-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let _passfile = tools::connect_env(&mut command, url, application_name)?;
    let mut apply = command.spawn().map_err(psql.failed())?;
    let apply_stderr = Tail::spawn(apply.stderr.take());
    if let Some(mut stdin) = apply.stdin.take() {
        // A write error means psql stopped on an error: its status and stderr say which.
        if stdin.write_all(plan.prelude().as_bytes()).await.is_ok() {
            let _ = tokio::io::copy(&mut script_out, &mut stdin).await;
        }
    }
    drop(script_out);
    let apply_status = apply.wait().await.map_err(psql.failed())?;
    let script_status = script.wait().await.map_err(pg_restore.failed())?;
    if !apply_status.success() || !script_status.success() {
        let script_text = if script_status.success() {
            "ok".to_owned()
        } else {
            format!(
                "{}: {}",
                process::describe(script_status),
                script_stderr.text().await
            )
        };
        return Err(BackupError::RestoreFailed {
            file,
            stderr: url.scrub(&format!(
                "{}: {}",
                process::describe(apply_status),
                apply_stderr.text().await
            )),
            restore_stderr: script_text,
        });
    }
    tracing::info!("restore done");
    Ok(())
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

/// The file's sha256, hex, read off the async workers.
pub async fn sha256_of(file: &Path) -> Result<String, BackupError> {
    let path = file.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut reader =
            std::fs::File::open(&path).map_err(BackupError::io("read", path.clone()))?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut reader, &mut hasher).map_err(BackupError::io("read", path.clone()))?;
        Ok(hex::encode(hasher.finalize()))
    })
    .await
    .unwrap_or_else(|e| Err(BackupError::io("hash", file)(std::io::Error::other(e))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(database: &str, locks_needed: u64, globals: &[&str]) -> RestorePlan {
        let server = Server {
            database: "app".to_owned(),
            major: 15,
            version: "15.0".to_owned(),
            system_identifier: Some("7".to_owned()),
        };
        let manifest = crate::backup::Manifest {
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
            list: String::new(),
            locks_needed,
            lock_table: (64, 100),
            server,
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
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("public"), "\"public\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }
}
