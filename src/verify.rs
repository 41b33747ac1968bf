//! `schemagate verify` (DESIGN §16): proves, on a scratch database, that every down file
//! inverts its up. For each migration in order: run the up, run the down and compare with
//! the schema before the up, then run the up again and compare with the first up. The first
//! down that does not invert its up stops it, naming the objects that differ; irreversible
//! migrations are applied and their down skipped, with a note.
//!
//! The schema is described once, then followed ([`crate::schema::Tracked`]): after each step
//! only the objects it touched are described again, and each comparison covers the objects
//! the steps since its point touched, so the work grows with the catalogue, not with its
//! square.

use crate::catalogue::{Catalogue, Down};
use crate::engine::{Session, StepFailed};
use crate::schema::{Earlier, Tracked};
use crate::{plan, scratch};

/// Why a catalogue does not verify.
#[derive(Debug, thiserror::Error)]
pub(crate) enum VerifyError {
    /// After up and down the schema is not what it was before the up.
    #[error(
        "the down of version {version} ({file}) does not invert its up: after up and down the schema differs from before the up:\n  {}\nMake the down drop (or restore) exactly what the up creates (or changes)",
        differences.join("\n  ")
    )]
    NotInverted {
        /// The migration.
        version: i64,
        /// Its down file.
        file: String,
        /// `missing: …` (the down dropped too much) / `extra: …` (it left something).
        differences: Vec<String>,
    },
    /// The up run again gives another schema than the first time.
    #[error(
        "version {version} ({file}) run again after its down gives another schema than the first time:\n  {}",
        differences.join("\n  ")
    )]
    NotRepeatable {
        /// The migration.
        version: i64,
        /// Its up file.
        file: String,
        /// The differences, as above.
        differences: Vec<String>,
    },
    /// An up or a down failed.
    #[error("{0}")]
    Step(#[source] Box<StepFailed>),
    /// The scratch database could not be described, or its history made.
    #[error(transparent)]
    Engine(crate::gate::Error),
}

/// Verifies every migration of `catalogue` on the empty `scratch` database; `on_line` hears
/// one line per migration.
pub(crate) async fn verify(
    scratch: &mut dyn Session,
    catalogue: &Catalogue,
    on_line: &mut dyn FnMut(String),
) -> Result<(), VerifyError> {
    scratch
        .ensure_history()
        .await
        .map_err(VerifyError::Engine)?;
    let mut schema = scratch.track().await.map_err(VerifyError::Engine)?;
    let migrations = catalogue.migrations();
    // Each migration with the version below it (0 for the first): the scratch history is
    // the catalogue's, in order, so each step is planned alone.
    let below = std::iter::once(0).chain(migrations.iter().map(|m| m.version));
    for (migration, below) in migrations.iter().zip(below) {
        let version = migration.version;
        let up = plan::up_one(migration, below);
        let by_up = step(scratch, catalogue, &up, &mut schema).await?;
        let Down::Script(down_file) = &migration.down else {
            on_line(format!(
                "version {version} ({}): up; down skipped, irreversible",
                migration.up.file
            ));
            continue;
        };
        let down = plan::down_one(migration, below).expect("a reversible migration plans its down");
        let by_down = step(scratch, catalogue, &down, &mut schema).await?;
        // Against the schema before the up.
        let differences = schema.differences_since(&[&by_up, &by_down]);
        if !differences.is_empty() {
            return Err(VerifyError::NotInverted {
                version,
                file: down_file.file.clone(),
                differences,
            });
        }
        let by_up_again = step(scratch, catalogue, &up, &mut schema).await?;
        // Against the schema after the first up.
        let differences = schema.differences_since(&[&by_down, &by_up_again]);
        if !differences.is_empty() {
            return Err(VerifyError::NotRepeatable {
                version,
                file: migration.up.file.clone(),
                differences,
            });
        }
        on_line(format!(
            "version {version} ({}): up, down, up again: identical",
            migration.up.file
        ));
    }
    Ok(())
}

/// Runs `plan`, then looks: what it touched, `schema` brought up to date.
async fn step(
    session: &mut dyn Session,
    catalogue: &Catalogue,
    plan: &plan::Plan,
    schema: &mut Tracked,
) -> Result<Earlier, VerifyError> {
    scratch::run_and_look(session, catalogue, plan, schema)
        .await
        .map_err(|failed| VerifyError::Step(Box::new(failed)))?
        .map_err(VerifyError::Engine)
}
