//! `repair --version V --applied|--reverted`: after a step stopped part way on an engine
//! where DDL commits by itself (MariaDB/MySQL), and the operator made the database hold all
//! or none of that migration by hand, records which, so runs stop refusing the database.
//! Under the lock, on the writable primary, audited; `--dry-run` says what it would record
//! and changes nothing.

use std::time::Instant;

use super::locked::{Change, record, release_lock, writable_session};
use super::{Error, Exit, Gate};
use crate::engine::Lock;

/// What `repair` did, or with `--dry-run` would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repaired {
    /// The version repaired.
    pub version: i64,
    /// Recorded as applied (else as reverted).
    pub applied: bool,
    /// The step as it was left, described.
    pub was: String,
    /// Nothing was changed (`--dry-run`).
    pub dry_run: bool,
}

/// `repair` named a version that is not the step left part way.
#[derive(Debug, thiserror::Error)]
#[error("nothing to repair for version {version}: {found}; nothing was changed")]
struct NotThatStep {
    version: i64,
    found: String,
}

impl Gate {
    /// `repair --version V --applied|--reverted` (see the module docs).
    pub async fn repair(&self, version: i64, applied: bool) -> Result<Repaired, Error> {
        if self.settings.dry_run {
            let session = self.connect().await?;
            let was = left_part_way(session.dirty().await?, version)?;
            return Ok(Repaired {
                version,
                applied,
                was,
                dry_run: true,
            });
        }
        let mut lock = self.acquire_lock().await?;
        let result = repair_locked(self, lock.as_mut(), version, applied).await;
        release_lock(lock).await;
        result
    }
}

/// The description of the step left part way, when it is `version`'s (exit 2 otherwise).
fn left_part_way(dirty: Option<(i64, String)>, version: i64) -> Result<String, Error> {
    match dirty {
        Some((dirty, was)) if dirty == version => Ok(was),
        Some((_, was)) => Err(Error::new(
            Exit::Usage,
            NotThatStep {
                version,
                found: format!("the step left part way is {was}"),
            },
        )),
        None => Err(Error::new(
            Exit::Usage,
            NotThatStep {
                version,
                found: "no step was left part way".to_owned(),
            },
        )),
    }
}

async fn repair_locked(
    gate: &Gate,
    lock: &mut dyn Lock,
    version: i64,
    applied: bool,
) -> Result<Repaired, Error> {
    let started = Instant::now();
    let was = left_part_way(lock.session().dirty().await?, version)?;
    writable_session(lock).await?;
    let from = lock.session().current_version().await?;
    let marked = super::drift::supersede(lock.session()).await;
    if let Err(error) = lock.session_mut().repair(version, applied).await {
        super::drift::withdraw(lock.session(), marked).await;
        return Err(error);
    }
    let to = lock.session().current_version().await?;
    super::drift::record_left(lock.session(), to).await;
    let word = if applied { "applied" } else { "reverted" };
    let entry = Change {
        action: "repair",
        from,
        to,
        started,
        backup_file: None,
        outcome: format!("ok; version {version} recorded as {word}; it was: {was}"),
    }
    .entry(gate);
    record(lock.session(), &entry).await;
    Ok(Repaired {
        version,
        applied,
        was,
        dry_run: false,
    })
}
