//! Taking over a database that already has tables but no history (its tables were made by
//! an earlier image's `docker-entrypoint-initdb.d`, by hand, or by a tool that kept no
//! table): record the catalogue's migrations up to the schema version it is at as applied,
//! optionally after proving that it is at that version.
//!
//! The proof (`--verify`, `[adopt] verify = true`) migrates a scratch database on the same
//! server to that version and compares the two schemas object by object ([`crate::schema`]);
//! the scratch database ([`crate::scratch`]) is dropped whatever happens, a stop included.

use crate::applied::Applied;
use crate::catalogue::Catalogue;
use crate::config::Window;
use crate::engine::{Session, StepFailed};
use crate::gate::{Error, Exit};
use crate::{plan, schema};

/// A baseline that cannot be done.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The version is not one of the catalogue's.
    #[error(
        "baseline version {version} is not a migration of {origin}; give the version of the last migration the database already has (the catalogue has {known})"
    )]
    UnknownVersion {
        /// The version asked for.
        version: i64,
        /// The catalogue's origin.
        origin: String,
        /// Its first and last versions.
        known: String,
    },
    /// The database already has a history.
    #[error(
        "the database already has a migration history (up to version {current}); baseline is for a database without one: nothing was changed. `schemagate status` shows where it is"
    )]
    HasHistory {
        /// Its highest applied version.
        current: i64,
    },
    /// The database's schema differs from what the catalogue makes at that version.
    #[error(
        "the database is not at schema {version}: migrating a scratch database to {version} gives a different schema; nothing was changed. Differences:\n  {}\nBaseline at the version the database really is at, or fix the database first",
        differences.join("\n  ")
    )]
    Differs {
        /// The version claimed.
        version: i64,
        /// `missing: …` / `extra: …` lines.
        differences: Vec<String>,
    },
    /// Migrating the scratch database failed.
    #[error("baseline --verify: migrating the scratch database failed: {0}")]
    Scratch(#[source] Box<StepFailed>),
}

impl BaselineError {
    /// Refusals are exit 3, a version the catalogue lacks exit 2, anything else exit 1.
    pub(crate) fn exit(&self) -> Exit {
        match self {
            BaselineError::UnknownVersion { .. } => Exit::Usage,
            BaselineError::HasHistory { .. } | BaselineError::Differs { .. } => Exit::Refused,
            BaselineError::Scratch(_) => Exit::Internal,
        }
    }
}

impl From<BaselineError> for Error {
    fn from(error: BaselineError) -> Self {
        Error::new(error.exit(), error)
    }
}

/// Checks that `version` is one of the catalogue's (0, "nothing applied", is not a baseline).
pub(crate) fn check_version(catalogue: &Catalogue, version: i64) -> Result<(), BaselineError> {
    if catalogue.get(version).is_some() {
        return Ok(());
    }
    let known = match (
        catalogue.migrations().first(),
        catalogue.migrations().last(),
    ) {
        (Some(first), Some(last)) => format!("{} to {}", first.version, last.version),
        _ => "no migrations".to_owned(),
    };
    Err(BaselineError::UnknownVersion {
        version,
        origin: catalogue.origin.clone(),
        known,
    })
}

/// The user objects of a database without a history, for the refusal's message: its tables,
/// views, sequences, routines and types (not schemagate's tables, not extensions' objects).
/// Empty means a fresh database.
pub(crate) async fn existing_objects(session: &dyn Session) -> Result<Vec<String>, Error> {
    const KINDS: [&str; 6] = [
        "table ",
        "view ",
        "materialized view ",
        "sequence ",
        "routine ",
        "type ",
    ];
    let objects = session.describe().await?;
    Ok(objects
        .into_iter()
        .filter(|object| KINDS.iter().any(|kind| object.starts_with(kind)))
        .map(|object| object.split(':').next().unwrap_or_default().to_owned())
        .collect())
}

/// The history rows a baseline at `version` records: every catalogue migration up to it.
pub(crate) fn rows(catalogue: &Catalogue, version: i64) -> Vec<Applied> {
    catalogue
        .migrations()
        .iter()
        .take_while(|m| m.version <= version)
        .map(|m| Applied {
            version: m.version,
            name: m.name.clone(),
            applied_on: String::new(),
            checksum: Some(m.checksum),
        })
        .collect()
}

/// Records the baseline in one transaction (creating the history first). The caller holds
/// the lock and has taken the backup.
pub(crate) async fn record(
    session: &mut dyn Session,
    catalogue: &Catalogue,
    version: i64,
) -> Result<usize, Error> {
    let rows = rows(catalogue, version);
    session.record_applied(&rows).await?;
    Ok(rows.len())
}

/// Proves the database (`live`) is at `version`: migrates the empty `scratch` database to
/// it and compares. The caller creates and drops `scratch`.
pub(crate) async fn verify(
    live: &dyn Session,
    scratch: &mut dyn Session,
    catalogue: &Catalogue,
    version: i64,
) -> Result<(), Error> {
    let window = Window {
        min: 0,
        max: version,
        target: version,
    };
    let plan = plan::forward(catalogue, &[], &window).expect("an empty history always plans");
    scratch.ensure_history().await?;
    crate::scratch::run(scratch, catalogue, &plan)
        .await
        .map_err(|failed| BaselineError::Scratch(Box::new(failed)))?;
    let expected = scratch.describe().await?;
    let actual = live.describe().await?;
    let differences = schema::differences(&expected, &actual);
    if differences.is_empty() {
        return Ok(());
    }
    Err(BaselineError::Differs {
        version,
        differences,
    }
    .into())
}
