//! Whether a release's window names versions of its catalogue: a window no migration can
//! reach is a configuration error found at load (exit 2), not a refusal after migrating.

use crate::catalogue::{Catalogue, Migration};
use crate::config::Window;

/// A window that no schema migrated by this catalogue can be in: found when the release is
/// loaded (exit 2), not after a migration that cannot reach it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{key} {value} is below the first migration, {first} ({file}), so no schema of the catalogue {origin} fits the window [{min}, {max}]; {key} names a migration version (with timestamp versions, the whole timestamp)",
    key = if self.target == self.max { "max" } else { "target" }, value = self.target
)]
pub struct Unreachable {
    /// The window's min.
    pub min: i64,
    /// Its max.
    pub max: i64,
    /// Its target.
    pub target: i64,
    /// The catalogue's first version.
    pub first: i64,
    /// The first migration's file.
    pub file: String,
    /// The catalogue's origin.
    pub origin: String,
}

/// Why a window names no version of its catalogue. A window some migration reaches has a
/// migration between `min` and `target`; one that holds 0 (nothing applied), or that starts
/// above the catalogue's last migration (the release ships without them, which
/// [`Refusal::Behind`](super::Refusal::Behind) says at run time), is not judged here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// `max` (or `target`) is below the first migration.
    #[error(transparent)]
    BelowFirst(#[from] Unreachable),
    /// `[min, target]` falls between two migrations.
    #[error(
        "the window [{min}, {target}] (min to target) holds no migration of the catalogue {origin}: the nearest are {below} and {above}; min and target name migration versions"
    )]
    Between {
        /// The window's min.
        min: i64,
        /// Its target.
        target: i64,
        /// The migration just below `min`.
        below: i64,
        /// The migration just above `target`.
        above: i64,
        /// The catalogue's origin.
        origin: String,
    },
}

/// Checks that the window names versions of the catalogue (see [`WindowError`]).
pub fn reachable(catalogue: &Catalogue, window: &Window) -> Result<(), WindowError> {
    let migrations = catalogue.migrations();
    let Some(first) = migrations.first() else {
        return Ok(());
    };
    if window.min == 0 || window.min > catalogue.latest() {
        return Ok(());
    }
    let inside = |m: &&Migration| (window.min..=window.target).contains(&m.version);
    if migrations.iter().any(|m| inside(&m)) {
        return Ok(());
    }
    if window.target < first.version {
        return Err(WindowError::BelowFirst(Unreachable {
            min: window.min,
            max: window.max,
            target: window.target,
            first: first.version,
            file: first.up.file.clone(),
            origin: catalogue.origin.clone(),
        }));
    }
    let below = migrations
        .iter()
        .rev()
        .find(|m| m.version < window.min)
        .map_or(0, |m| m.version);
    let above = migrations
        .iter()
        .find(|m| m.version > window.target)
        .map_or(window.target, |m| m.version);
    Err(WindowError::Between {
        min: window.min,
        target: window.target,
        below,
        above,
        origin: catalogue.origin.clone(),
    })
}
