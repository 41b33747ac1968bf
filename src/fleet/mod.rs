//! The fleet (DESIGN §14): which releases are running against the database right now, so
//! that no schema change breaks a replica that still serves traffic.
//!
//! Every serving replica records itself in `schemagate_fleet` (`announce`) at startup
//! and at every background refresh, and removes itself on graceful shutdown (`leave`).
//! A row unseen for three of its own refresh intervals is stale and pruned by whoever reads
//! it (`live`). Before a change, the gate asks [`admit`] whether moving the schema from
//! its current version to the target would take it outside the window of a live replica
//! of another release; `--fleet-wait` re-asks until it does not ([`until_admitted`]).
//!
//! - [`instance`]: this process as a member of the fleet: random id, host, release, window.
//! - [`replica`]: a row of the table (one serving instance) and the table's name.
//! - each engine's wing: the `schemagate_fleet` table: race-safe creation, announce, leave,
//!   live rows.
//! - [`admission`]: the pure rule, with [`[[releases]]`](crate::config::Compat::releases)
//!   widening an older release's window, and the refusal naming releases, counts and hosts.
//! - [`summary`]: live rows grouped by release, for `/health`, metrics, `plan` and `status`.
//! - [`wait`]: re-checking admission every interval until admitted or out of time.
//! - [`error`]: what can fail.
//!
//! docs/fleet.md describes the table, the rules with examples, and widening.

pub(crate) mod admission;
pub(crate) mod error;
pub(crate) mod instance;
pub(crate) mod replica;
pub(crate) mod summary;
#[cfg(test)]
pub(crate) mod testing;
pub(crate) mod wait;

pub(crate) use admission::{Admission, Change, Refusal, admit};
pub(crate) use error::FleetError;
pub(crate) use instance::Instance;
pub(crate) use replica::{Replica, TABLE};
pub use summary::Group;
pub(crate) use summary::summary;
pub(crate) use wait::{Wait, until_admitted};
