//! What can fail in the fleet: a query on `schemagate_fleet`, drawing an instance id, or
//! admission itself (a refusal, at once or after `--fleet-wait`).

use std::time::Duration;

use super::admission::Refusal;
use super::replica::TABLE;

/// A fleet operation failed, or the fleet refused a change.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// A query on the table failed.
    #[error("cannot {action} {TABLE}: {}", crate::postgres::db::describe(.source))]
    Query {
        /// What was being done: `create`, `announce this instance in`, `read`, ….
        action: &'static str,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The operating system's random source failed (the instance id is drawn from it).
    #[error("cannot draw a random fleet instance id from the operating system")]
    Random {
        /// getrandom's error.
        #[source]
        source: getrandom::Error,
    },
    /// Live replicas of other releases would fail after the change (exit 3).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// They still would after waiting `--fleet-wait` (exit 3).
    #[error("still refused after waiting {waited:?} (--fleet-wait): {refusal}")]
    StillRefused {
        /// How long the gate waited.
        waited: Duration,
        /// The last refusal.
        #[source]
        refusal: Refusal,
    },
}

impl FleetError {
    /// A query failure while doing `action`.
    pub(crate) fn query(action: &'static str) -> impl FnOnce(tokio_postgres::Error) -> Self {
        move |source| Self::Query { action, source }
    }

    /// Whether this is the fleet refusing the change (exit 3), rather than a failure to
    /// find out.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Refused(_) | Self::StillRefused { .. })
    }
}
