//! Restore: bring the database back **exactly** to a backup.
//!
//! `pg_restore --clean` only drops the objects the dump contains, so a table added by a later
//! migration would survive. Instead, in **one transaction** run by `psql`:
//! 1. drop every non-system schema of the database, `CASCADE` (everything after the dump goes);
//! 2. recreate `public` as PostgreSQL creates it (owner `pg_database_owner`, `USAGE` for
//!    everyone on 15+; `ALL` for everyone before), since dumps do not contain it;
//! 3. replay the dump's SQL (`pg_restore --file=-`: schemas, tables, rows, owners, grants).
//!
//! Any error stops psql (`ON_ERROR_STOP`) and the transaction rolls back: the database is
//! either the dump or untouched, never half-dropped. The database itself is not dropped (we
//! are connected to it, and so may the application be); database-level settings
//! (`ALTER DATABASE … SET`) and roles are outside a database dump and are left alone.
//! The drops wait at most `lock_timeout` (1 min) for sessions using the tables.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt as _;
use tokio_postgres::Client;

use super::process::{self, Tail};
use super::tools::{self, Server, Tool};
use super::{Backup, BackupError};
use crate::db::DatabaseUrl;

/// What a restore will do.
#[derive(Debug, Clone)]
pub struct RestorePlan {
    /// The backup, its checksum verified.
    pub backup: Backup,
    /// The database it goes into.
    pub database: String,
    /// The schemas that will be dropped with everything in them.
    pub schemas: Vec<String>,
    /// The server.
    pub server: Server,
}

impl RestorePlan {
    /// Reads the manifest beside `file`, checks the file's sha256 against it, and lists the
    /// schemas of the target database.
    pub async fn new(client: &Client, file: &Path) -> Result<Self, BackupError> {
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
        let schemas = client
            .query(
                "SELECT nspname::text FROM pg_namespace \
                 WHERE nspname <> 'information_schema' AND nspname NOT LIKE 'pg\\_%' ORDER BY 1",
                &[],
            )
            .await
            .map_err(|e| BackupError::query("list the schemas", &e))?
            .iter()
            .map(|row| row.get(0))
            .collect();
        Ok(Self {
            backup,
            database: server.database.clone(),
            schemas,
            server,
        })
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

/// Replays the plan (see the module docs). The caller holds the migration lock.
#[tracing::instrument(skip_all, fields(file = %plan.backup.path.display(), database = %plan.database))]
pub async fn restore(
    plan: &RestorePlan,
    url: &DatabaseUrl,
    application_name: &str,
    pg_dump: Option<&Path>,
) -> Result<(), BackupError> {
    let major = plan.server.major;
    let pg_restore = Tool::beside("pg_restore", major, pg_dump).await?;
    let psql = Tool::beside("psql", major, pg_dump).await?;
    let file: PathBuf = plan.backup.path.clone();

    let mut script = pg_restore
        .command()
        .arg("--file=-")
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| BackupError::Spawn {
            program: pg_restore.path.clone(),
            source,
        })?;
    let script_stderr = Tail::spawn(script.stderr.take());
    let mut script_out = script.stdout.take().ok_or_else(|| BackupError::Spawn {
        program: pg_restore.path.clone(),
        source: std::io::Error::other("no stdout pipe"),
    })?;

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
    tools::connect_env(&mut command, url, application_name)?;
    let mut apply = command.spawn().map_err(|source| BackupError::Spawn {
        program: psql.path.clone(),
        source,
    })?;
    let apply_stderr = Tail::spawn(apply.stderr.take());
    if let Some(mut stdin) = apply.stdin.take() {
        // A write error means psql stopped on an error: its status and stderr say which.
        if stdin.write_all(plan.prelude().as_bytes()).await.is_ok() {
            let _ = tokio::io::copy(&mut script_out, &mut stdin).await;
        }
    }
    drop(script_out);
    let apply_status = apply.wait().await.map_err(|source| BackupError::Spawn {
        program: psql.path.clone(),
        source,
    })?;
    let script_status = script.wait().await.map_err(|source| BackupError::Spawn {
        program: pg_restore.path.clone(),
        source,
    })?;
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
            stderr: tools::scrub(
                &format!(
                    "{}: {}",
                    process::describe(apply_status),
                    apply_stderr.text().await
                ),
                url,
            ),
            restore_stderr: script_text,
        });
    }
    tracing::info!("restore done");
    Ok(())
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

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("public"), "\"public\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }
}
