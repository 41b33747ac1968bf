//! [`Pool`]: the background refresh's reads, through a small pool the engine keeps (DESIGN
//! §8, §14): every refresh interval, with a short timeout.

use std::collections::BTreeSet;

use async_trait::async_trait;

use crate::audit::Totals;
use crate::backup::Origin;
use crate::drift::Recorded;
use crate::fleet::{Instance, Replica};

/// A few connections for the refresh. Errors are messages: the refresh logs them and
/// `/health` shows them; none is fatal.
#[async_trait]
pub(crate) trait Pool: Send + Sync {
    /// The schema version, and beside it (pipelined on the same connection where the
    /// engine can) the fleet, announcing `instance` first, and the audit totals. A
    /// connection whose version read failed is not used again.
    async fn read(&self, instance: Option<&Instance>) -> Result<(i64, FleetAndAudit), String>;

    /// Takes replica `id` out of the fleet.
    async fn leave(&self, id: &str) -> Result<(), String>;

    /// Which database this is (the backup metrics count only its backups).
    async fn origin(&self) -> Result<Origin, String>;

    /// The schema described now and the newest recorded description (DESIGN §19), on one
    /// connection: the drift check.
    async fn schema(&self) -> Result<(BTreeSet<String>, Option<Recorded>), String>;
}

/// What one refresh read besides the version: each part may fail on its own.
#[derive(Debug)]
pub(crate) struct FleetAndAudit {
    /// Announcing this instance (`Ok` when it does not announce itself).
    pub announced: Result<(), String>,
    /// The live replicas.
    pub live: Result<Vec<Replica>, String>,
    /// The audit-derived counters.
    pub totals: Result<Totals, String>,
}
