//! Admission (DESIGN §14): may the schema move from one version to another while these
//! replicas run? Pure, so every rule is unit-tested without a database.
//!
//! A change is refused when a live replica of another release runs on the current schema
//! and would not run on the target: for a step up, a target above its `max`; for a step
//! down, a target below its `min`. A replica that already cannot run on the current schema
//! (its `/health` fails today) is not protected by refusing: the change cannot make it
//! fail, and refusing would only deadlock the deploy that is meant to replace it.
//!
//! This release knows more than an older one: when its `[[releases]]` lists a live
//! replica's version, the replica's window counts as the union of what its row says and
//! that entry, so a newer release may widen an older release's window (its `max` after a
//! backward-compatible expand step, say), never narrow it.

use std::collections::BTreeSet;
use std::fmt;

use super::replica::Replica;
use crate::config::{Compat, Window, parse_version};
use crate::plan::{Direction, Plan};

/// How many host names a refusal lists before it says how many more there are.
const HOSTS_SHOWN: usize = 5;

/// The schema moving from the current version to a target, as the gate is about to
/// move it (a migrate, rollback, restore, baseline or adopt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// The schema version now.
    pub from: i64,
    /// The schema version after the change.
    pub to: i64,
}

impl Change {
    /// Up or down; `None` when the schema stays where it is.
    pub fn direction(self) -> Option<Direction> {
        match self.to.cmp(&self.from) {
            std::cmp::Ordering::Greater => Some(Direction::Up),
            std::cmp::Ordering::Less => Some(Direction::Down),
            std::cmp::Ordering::Equal => None,
        }
    }

    /// "migrating to 5", "rolling back to 3": what the messages call it.
    fn verb(self) -> String {
        match self.direction() {
            Some(Direction::Down) => format!("rolling back to {}", self.to),
            _ => format!("migrating to {}", self.to),
        }
    }
}

impl From<&Plan> for Change {
    fn from(plan: &Plan) -> Self {
        Self {
            from: plan.current,
            to: plan.target,
        }
    }
}

/// The edge of a release's window that a change would cross.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Limit {
    /// Its `max`: a step up beyond it breaks the release.
    AtMost(i64),
    /// Its `min`: a step down below it breaks the release.
    AtLeast(i64),
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AtMost(max) => write!(f, "≤ {max}"),
            Self::AtLeast(min) => write!(f, "≥ {min}"),
        }
    }
}

/// A release whose live replicas a change would break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    /// The release, as its rows spell it (`v1.3.0`).
    pub version: String,
    /// How many of its replicas are live.
    pub replicas: usize,
    /// Where they run, sorted, each once.
    pub hosts: BTreeSet<String>,
    /// The edge of its (widened) window that the change crosses.
    pub limit: Limit,
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (replicas, run) = if self.replicas == 1 {
            ("replica", "runs")
        } else {
            ("replicas", "run")
        };
        let hosts: Vec<&str> = self
            .hosts
            .iter()
            .take(HOSTS_SHOWN)
            .map(String::as_str)
            .collect();
        let more = self.hosts.len().saturating_sub(HOSTS_SHOWN);
        write!(
            f,
            "{} {replicas} of {} {run} on schema {} ({} {}{})",
            self.replicas,
            self.version,
            self.limit,
            if self.hosts.len() == 1 {
                "host"
            } else {
                "hosts"
            },
            hosts.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        )
    }
}

/// The fleet refuses a change (exit 3): which releases it would break, where they run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{}; let them stop first (--fleet-wait DURATION waits for it), widen their window in this release's [[releases]] if they can run on schema {}, or override with --ignore-fleet",
    self.blocking(), self.change.to
)]
pub struct Refusal {
    /// The change refused.
    pub change: Change,
    /// The releases it would break, by version.
    pub blockers: Vec<Blocker>,
}

impl Refusal {
    /// What blocks, without the advice: "2 replicas of v1.3.0 run on schema ≤ 4 (hosts a,
    /// b); migrating to 5 would make them fail".
    pub fn blocking(&self) -> String {
        let replicas: usize = self.blockers.iter().map(|b| b.replicas).sum();
        let lines: Vec<String> = self.blockers.iter().map(ToString::to_string).collect();
        format!(
            "{}; {} would make {} fail",
            lines.join(" and "),
            self.change.verb(),
            if replicas == 1 { "it" } else { "them" }
        )
    }

    /// The note an overridden refusal leaves in the change's audit row (`--ignore-fleet`).
    pub fn overridden(&self) -> String {
        format!("fleet ignored (--ignore-fleet): {}", self.blocking())
    }
}

/// The fleet's verdict on a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Admission {
    /// No live replica of another release would fail.
    Admitted(Change),
    /// Some would.
    Refused(Refusal),
}

impl fmt::Display for Admission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Admitted(change) if change.direction().is_none() => write!(
                f,
                "the schema stays at {}: nothing for the fleet to admit",
                change.to
            ),
            Self::Admitted(change) => write!(f, "the fleet admits {}", change.verb()),
            Self::Refused(refusal) => write!(f, "refused by the fleet: {}", refusal.blocking()),
        }
    }
}

/// Judges `change` by the release of `compat` against the `live` replicas: those of this
/// same release are ignored, the others' windows are widened by this release's
/// `[[releases]]` (see the module docs).
pub(crate) fn admit(change: Change, compat: &Compat, live: &[Replica]) -> Admission {
    let mut blockers: Vec<Blocker> = Vec::new();
    for replica in live.iter().filter(|r| !of_release(r, compat)) {
        let window = effective_window(replica, compat);
        if !window.contains(change.from) || window.contains(change.to) {
            continue;
        }
        let limit = if change.to > window.max {
            Limit::AtMost(window.max)
        } else {
            Limit::AtLeast(window.min)
        };
        let index = blockers
            .iter()
            .position(|b| b.version == replica.app_version && b.limit == limit)
            .unwrap_or_else(|| {
                blockers.push(Blocker {
                    version: replica.app_version.clone(),
                    replicas: 0,
                    hosts: BTreeSet::new(),
                    limit,
                });
                blockers.len() - 1
            });
        let blocker = &mut blockers[index];
        blocker.replicas += 1;
        blocker.hosts.insert(replica.host.clone());
    }
    if blockers.is_empty() {
        return Admission::Admitted(change);
    }
    blockers.sort_by(|a, b| (a.limit, &a.version).cmp(&(b.limit, &b.version)));
    Admission::Refused(Refusal { change, blockers })
}

/// Whether a row is of the release running (the same semver, however it is spelled).
fn of_release(replica: &Replica, compat: &Compat) -> bool {
    parse_version(&replica.app_version).is_ok_and(|v| v == compat.app_version)
}

/// The replica's window from its row, widened (never narrowed) by this release's
/// `[[releases]]` entry for its version.
pub(crate) fn effective_window(replica: &Replica, compat: &Compat) -> Window {
    let own = (replica.min, replica.max);
    let (min, max) = parse_version(&replica.app_version)
        .ok()
        .and_then(|v| compat.release(&v))
        .map_or(own, |known| {
            (own.0.min(known.window.min), own.1.max(known.window.max))
        });
    Window {
        min,
        max,
        target: max,
    }
}

#[cfg(test)]
mod tests;
