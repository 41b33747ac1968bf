//! Pure planning: from catalogue, history and window to a [`Plan`] or a refusal, and the
//! verdict on a schema version. No database here, so every rule is unit-tested.

use std::fmt;

use crate::applied::Applied;
use crate::catalogue::{Catalogue, Down, Migration};
use crate::config::Window;

pub(crate) mod stranding;
pub(crate) mod window;

pub use stranding::{Stranded, stranding};
pub use window::{Unreachable, WindowError, reachable};

/// Which way a plan moves the schema: the direction of the files it runs.
pub use crate::catalogue::Direction;

/// One file to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The migration's version.
    pub version: i64,
    /// Its name.
    pub name: String,
    /// The file that runs.
    pub file: String,
    /// Whether it runs in a transaction with its history change.
    pub transactional: bool,
    /// The file's own lock and statement timeouts.
    pub timeouts: crate::catalogue::Timeouts,
}

/// What a run will do: the schema version now, where it ends, and the steps in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Up or down.
    pub direction: Direction,
    /// The highest applied version now (0 for none).
    pub current: i64,
    /// The version after the last step.
    pub target: i64,
    /// Steps in execution order.
    pub steps: Vec<Step>,
}

impl Plan {
    /// The plan of nothing to do at `version`.
    pub fn at(version: i64) -> Self {
        Self {
            direction: Direction::Up,
            current: version,
            target: version,
            steps: Vec::new(),
        }
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The schema version once the step at `index` is done: that step's version going up;
    /// going down, the version of the next step to undo (the target after the last).
    pub(crate) fn version_after(&self, index: usize) -> i64 {
        match self.direction {
            Direction::Up => self.steps[index].version,
            Direction::Down => self
                .steps
                .get(index + 1)
                .map_or(self.target, |next| next.version),
        }
    }
}

/// Why the history and the catalogue cannot be reconciled (exit 3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// An applied migration's checksum differs from its file.
    #[error(
        "drift: version {version} was applied as {applied_name:?} with checksum {applied}, but {file} now has checksum {expected}; the file was edited after it was applied. Restore the file as applied, or write a new migration for the change"
    )]
    Drift {
        /// The version.
        version: i64,
        /// The name in the history.
        applied_name: String,
        /// The checksum in the history (`None` if unreadable).
        applied: Checksum,
        /// The file.
        file: String,
        /// The file's checksum.
        expected: u64,
    },
    /// An applied version below the catalogue's newest is missing from the catalogue.
    #[error(
        "version {version} ({name}) is applied but not in the catalogue {origin}, which goes up to {latest}; its file was removed or renamed. Put it back"
    )]
    UnknownApplied {
        /// The version.
        version: i64,
        /// Its name in the history.
        name: String,
        /// The catalogue's origin.
        origin: String,
        /// The catalogue's newest version.
        latest: i64,
    },
    /// The database is ahead of this release's window.
    #[error(
        "the database is at schema {current}, above this release's max {max}; deploy a release whose window includes {current}, or roll back first with the newer release's image (`schemagate --rollback-to {max}`)"
    )]
    Ahead {
        /// The applied version.
        current: i64,
        /// The window's max.
        max: i64,
    },
    /// A pending migration is older than the applied version.
    #[error(
        "out of order: {files} not applied, but the database is already at {current}; give the new migration a version above {current}"
    )]
    OutOfOrder {
        /// The pending files below the current version.
        files: String,
        /// The applied version.
        current: i64,
    },
    /// The schema will end or is below the window's min.
    #[error("schema {version} is below this release's min {min}: {}", behind_advice(*min, origin, *latest))]
    Behind {
        /// The version reached.
        version: i64,
        /// The window's min.
        min: i64,
        /// The catalogue's origin.
        origin: String,
        /// The catalogue's newest version.
        latest: i64,
    },
}

/// What to do about a schema below the window: migrate, or ship what is missing.
fn behind_advice(min: i64, origin: &str, latest: i64) -> String {
    if latest >= min {
        "run `schemagate migrate` (or deploy with migrations enabled) to apply the pending migrations".to_owned()
    } else {
        format!(
            "the catalogue {origin} ends at {latest}; ship the missing migrations with this release, or lower [schema].min"
        )
    }
}

/// Why a rollback cannot go the way asked (exit 3, or 2 for a target above the schema).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RollbackRefusal {
    /// The history does not match the catalogue.
    #[error(transparent)]
    History(#[from] Refusal),
    /// The target is above the current version.
    #[error(
        "rollback target {target} is above the current schema {current}; use `schemagate migrate` to go up"
    )]
    AboveCurrent {
        /// The target.
        target: i64,
        /// The current version.
        current: i64,
    },
    /// An applied version above the target has no migration in this release's catalogue.
    #[error(
        "version {version} is applied but the catalogue {origin} has no down file for it; run the rollback with the image of the release that applied it"
    )]
    NoDown {
        /// The version.
        version: i64,
        /// The catalogue's origin.
        origin: String,
    },
    /// A step on the path is marked irreversible.
    #[error(
        "version {version} ({name}) is irreversible ({file} says `-- schemagate:irreversible`); only a restore of a backup taken before it was applied goes back past it"
    )]
    Irreversible {
        /// The version.
        version: i64,
        /// Its name.
        name: String,
        /// The down file.
        file: String,
    },
}

/// The down-migrations that take the schema to `target`, newest first, or why not.
/// Nothing is refused for what lies below the target.
pub fn rollback(
    catalogue: &Catalogue,
    history: &[Applied],
    target: i64,
) -> Result<Plan, RollbackRefusal> {
    check_history(catalogue, history)?;
    let current = highest_applied(history);
    if target > current {
        return Err(RollbackRefusal::AboveCurrent { target, current });
    }
    let steps = history
        .iter()
        .rev()
        .take_while(|a| a.version > target)
        .map(|applied| down_step(catalogue, applied.version))
        .collect::<Result<Vec<_>, _>>()?;
    let reached = history
        .iter()
        .rev()
        .find(|a| a.version <= target)
        .map_or(0, |a| a.version);
    Ok(Plan {
        direction: Direction::Down,
        current,
        target: reached,
        steps,
    })
}

fn down_step(catalogue: &Catalogue, version: i64) -> Result<Step, RollbackRefusal> {
    let migration = catalogue
        .get(version)
        .ok_or_else(|| RollbackRefusal::NoDown {
            version,
            origin: catalogue.origin.clone(),
        })?;
    down_of(migration)
}

/// The down step of `migration`, or why there is none.
fn down_of(migration: &Migration) -> Result<Step, RollbackRefusal> {
    let version = migration.version;
    match &migration.down {
        Down::Script(script) => Ok(Step {
            version,
            name: migration.name.clone(),
            file: script.file.clone(),
            transactional: script.transactional,
            timeouts: script.timeouts,
        }),
        Down::Irreversible { file } => Err(RollbackRefusal::Irreversible {
            version,
            name: migration.name.clone(),
            file: file.clone(),
        }),
    }
}

/// A checksum as stored in the history, which may not be a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checksum(pub Option<u64>);

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(checksum) => write!(f, "{checksum}"),
            None => f.write_str("(unreadable)"),
        }
    }
}

/// Checks every applied row against the catalogue: checksums must match, and a version the
/// catalogue lacks is only accepted above the catalogue (a newer, compatible schema).
pub fn check_history(catalogue: &Catalogue, history: &[Applied]) -> Result<(), Refusal> {
    for applied in history {
        match catalogue.get(applied.version) {
            Some(migration) if !applied.checksum.is_some_and(|c| migration.accepts(c)) => {
                return Err(Refusal::Drift {
                    version: applied.version,
                    applied_name: applied.name.clone(),
                    applied: Checksum(applied.checksum),
                    file: migration.up.file.clone(),
                    expected: migration.checksum,
                });
            }
            None if applied.version <= catalogue.latest() => {
                return Err(Refusal::UnknownApplied {
                    version: applied.version,
                    name: applied.name.clone(),
                    origin: catalogue.origin.clone(),
                    latest: catalogue.latest(),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// The highest applied version of rows already read, 0 when none (the database's own
/// answer is the engine session's `current_version`).
pub fn highest_applied(history: &[Applied]) -> i64 {
    history.iter().map(|a| a.version).max().unwrap_or(0)
}

/// The up-migrations to run to reach the window's target, or why not.
pub fn forward(
    catalogue: &Catalogue,
    history: &[Applied],
    window: &Window,
) -> Result<Plan, Refusal> {
    check_history(catalogue, history)?;
    let current = highest_applied(history);
    if current > window.max {
        return Err(Refusal::Ahead {
            current,
            max: window.max,
        });
    }
    let pending: Vec<&Migration> = catalogue
        .migrations()
        .iter()
        .filter(|m| {
            m.version <= window.target
                && history
                    .binary_search_by_key(&m.version, |a| a.version)
                    .is_err()
        })
        .collect();
    let out_of_order: Vec<&str> = pending
        .iter()
        .filter(|m| m.version < current)
        .map(|m| m.up.file.as_str())
        .collect();
    if !out_of_order.is_empty() {
        return Err(Refusal::OutOfOrder {
            files: out_of_order.join(", "),
            current,
        });
    }
    let target = pending.last().map_or(current, |m| m.version);
    let plan = Plan {
        direction: Direction::Up,
        current,
        target,
        steps: pending.into_iter().map(up_step).collect(),
    };
    verdict(plan.target, window, catalogue)?;
    Ok(plan)
}

/// The plan of `migration`'s up alone, on a schema at `current`, the catalogue's version
/// before it: what [`forward`] plans to reach it from a history of the catalogue's
/// migrations before it, without reading that history. `verify` steps through the
/// catalogue one migration at a time; planning each step from the whole history made its
/// planning grow with the square of the catalogue.
pub(crate) fn up_one(migration: &Migration, current: i64) -> Plan {
    Plan {
        direction: Direction::Up,
        current,
        target: migration.version,
        steps: vec![up_step(migration)],
    }
}

/// The plan of `migration`'s down alone, back to `previous`, the catalogue's version
/// before it: what [`rollback`] plans for that target from a history of the catalogue's
/// migrations up to this one (see [`up_one`]); refused if it is irreversible.
pub(crate) fn down_one(migration: &Migration, previous: i64) -> Result<Plan, RollbackRefusal> {
    Ok(Plan {
        direction: Direction::Down,
        current: migration.version,
        target: previous,
        steps: vec![down_of(migration)?],
    })
}

fn up_step(migration: &Migration) -> Step {
    Step {
        version: migration.version,
        name: migration.name.clone(),
        file: migration.up.file.clone(),
        transactional: migration.up.transactional,
        timeouts: migration.up.timeouts,
    }
}

/// Whether a schema version is one this release runs on; `Ahead` or `Behind` if not.
pub fn verdict(version: i64, window: &Window, catalogue: &Catalogue) -> Result<(), Refusal> {
    if version > window.max {
        return Err(Refusal::Ahead {
            current: version,
            max: window.max,
        });
    }
    if version < window.min {
        return Err(Refusal::Behind {
            version,
            min: window.min,
            origin: catalogue.origin.clone(),
            latest: catalogue.latest(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
