//! This process as a member of the fleet: what [`announce`](super::announce) writes.

use std::time::Duration;

use super::error::FleetError;
use crate::config::Compat;

/// One serving process: a `serve` replica, or an application embedding the gate's routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Instance {
    /// Random per process (32 hex digits), so two processes on one host (or a restarted
    /// one, which must not inherit its predecessor's `started_at`) are two rows.
    pub id: String,
    /// The host name, for the messages that say where a blocking release runs.
    pub host: String,
    /// The release, as `v1.4.0` (the spelling of `/health` and the audit trail).
    pub app_version: String,
    /// Oldest schema version the release runs on.
    pub min: i64,
    /// Newest schema version the release runs on.
    pub max: i64,
    /// How often the instance announces itself; its row is stale after three of these.
    /// Stored per row, so a replica refreshing every minute is not pruned by one that
    /// refreshes every five seconds.
    pub refresh: Duration,
}

impl Instance {
    /// This process, running the release of `compat`, refreshing every `refresh`.
    pub(crate) fn new(compat: &Compat, refresh: Duration) -> Result<Self, FleetError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|source| FleetError::Random { source })?;
        let host = hostname::get()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Self {
            id: hex::encode(bytes),
            host,
            app_version: compat.tag(),
            min: compat.window.min,
            max: compat.window.max,
            refresh,
        })
    }

    /// The refresh interval in whole milliseconds (at least 1), as the table stores it.
    pub(crate) fn refresh_ms(&self) -> i64 {
        i64::try_from(self.refresh.as_millis())
            .unwrap_or(i64::MAX)
            .max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_instance_has_its_own_random_id_and_the_release_window() {
        let compat = Compat::parse(
            "compat.toml",
            "[app]\nversion = \"1.4.0\"\n[schema]\nmin = 4\nmax = 5\n",
        )
        .unwrap();
        let a = Instance::new(&compat, Duration::from_secs(5)).unwrap();
        let b = Instance::new(&compat, Duration::from_secs(5)).unwrap();
        assert_ne!(a.id, b.id);
        assert_eq!(a.id.len(), 32);
        assert!(a.id.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(
            (a.app_version.as_str(), a.min, a.max, a.refresh_ms()),
            ("v1.4.0", 4, 5, 5000)
        );
    }
}
