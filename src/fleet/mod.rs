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

pub mod admission;
pub mod error;
pub mod instance;
pub mod replica;
pub mod summary;
pub mod wait;

pub use admission::{Admission, Blocker, Change, Limit, Refusal, admit, effective_window};
pub use error::FleetError;
pub use instance::Instance;
pub use replica::{Replica, TABLE};
pub use summary::{Group, summary};
pub use wait::{Wait, until_admitted};
