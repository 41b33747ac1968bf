//! The live fleet grouped by release: what `/health`, `/metrics`, `plan` and `status` show.

use std::fmt;

use super::replica::Replica;
use crate::config::parse_version;

/// The live replicas of one release with one window.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Group {
    /// The release (`v1.3.0`).
    pub version: String,
    /// How many of its replicas are live.
    pub replicas: usize,
    /// Oldest schema version it runs on, by its own `compat.toml`.
    pub min: i64,
    /// Newest schema version it runs on, by its own `compat.toml`.
    pub max: i64,
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let replicas = if self.replicas == 1 {
            "replica"
        } else {
            "replicas"
        };
        write!(
            f,
            "{} {replicas} of {} on schema [{}, {}]",
            self.replicas, self.version, self.min, self.max
        )
    }
}

/// One group per release and window, oldest release first. Replicas of one release that
/// disagree on its window (two `compat.toml` for one version) stay apart, so neither
/// window is hidden.
pub(crate) fn summary(live: &[Replica]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for replica in live {
        let same = |g: &&mut Group| {
            g.version == replica.app_version && g.min == replica.min && g.max == replica.max
        };
        match groups.iter_mut().find(same) {
            Some(group) => group.replicas += 1,
            None => groups.push(Group {
                version: replica.app_version.clone(),
                replicas: 1,
                min: replica.min,
                max: replica.max,
            }),
        }
    }
    // Semver order (1.10.0 after 1.9.0); a version that does not parse sorts first.
    groups.sort_by_cached_key(|g| (parse_version(&g.version).ok(), g.version.clone(), g.min));
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(version: &str, min: i64, max: i64) -> Replica {
        Replica {
            id: String::new(),
            host: "h".to_owned(),
            app_version: version.to_owned(),
            min,
            max,
            refresh_ms: 1000,
            started_at: String::new(),
            last_seen: String::new(),
        }
    }

    #[test]
    fn replicas_are_counted_per_release_in_semver_order() {
        let live = [
            replica("v1.10.0", 5, 6),
            replica("v1.9.0", 4, 5),
            replica("v1.10.0", 5, 6),
            replica("v1.10.0", 5, 7),
        ];
        let groups = summary(&live);
        let shown: Vec<String> = groups.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "1 replica of v1.9.0 on schema [4, 5]",
                "2 replicas of v1.10.0 on schema [5, 6]",
                "1 replica of v1.10.0 on schema [5, 7]",
            ]
        );
        assert_eq!(
            serde_json::to_string(&groups[0]).unwrap(),
            r#"{"version":"v1.9.0","replicas":1,"min":4,"max":5}"#
        );
    }
}
