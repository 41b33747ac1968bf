//! Stranding analysis (DESIGN §18): where a failure part-way through a plan would leave the
//! schema. Each step commits on its own, so when step k fails the schema stays at the
//! version before it; if that version is outside the window of every release that runs now
//! and of the release being deployed, neither can serve until someone steps in. Pure, so
//! every case is unit-tested.

use std::fmt;

use super::{Direction, Plan};
use crate::config::{Compat, Window};

/// A step whose failure would strand the schema between windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stranded {
    /// The version of the failing step.
    pub step: i64,
    /// Its file.
    pub file: String,
    /// The schema version it would leave.
    pub at: i64,
    /// The releases whose windows miss it (those running now, then this one): tag and window.
    pub releases: Vec<(String, Window)>,
}

impl fmt::Display for Stranded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let windows: Vec<String> = self
            .releases
            .iter()
            .map(|(tag, w)| format!("{tag} [{}, {}]", w.min, w.max))
            .collect();
        let (last, rest) = windows.split_last().map_or(("", &[][..]), |(l, r)| (l, r));
        let listed = if rest.is_empty() {
            last.to_owned()
        } else {
            format!("{} and {last}", rest.join(", "))
        };
        write!(
            f,
            "if step {} ({}) fails the schema stays at {}: outside {listed}",
            self.step, self.file, self.at
        )
    }
}

/// The steps of an up plan whose failure would leave the schema outside the window of this
/// release and of every `[[releases]]` entry whose window holds the schema now (the releases
/// that can be running). None when no listed release runs on the current schema: then
/// nothing runs that a failure could strand (a fresh database) or nothing is known about it.
pub fn stranding(plan: &Plan, compat: &Compat) -> Vec<Stranded> {
    if plan.direction != Direction::Up {
        return Vec::new();
    }
    let running: Vec<(String, Window)> = compat
        .releases
        .iter()
        .filter(|r| r.version != compat.app_version && r.window.contains(plan.current))
        .map(|r| (format!("v{}", r.version), r.window))
        .collect();
    if running.is_empty() {
        return Vec::new();
    }
    let mut releases = running;
    releases.push((compat.tag(), compat.window));
    plan.steps
        .windows(2)
        .filter(|pair| !releases.iter().any(|(_, w)| w.contains(pair[0].version)))
        .map(|pair| Stranded {
            step: pair[1].version,
            file: pair[1].file.clone(),
            at: pair[0].version,
            releases: releases.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Step;

    fn compat() -> Compat {
        Compat::parse(
            "c.toml",
            "[app]\nversion = \"1.4.0\"\n[schema]\nmin = 7\nmax = 8\n[[releases]]\nversion = \"1.3.0\"\nmin = 3\nmax = 5\n",
        )
        .unwrap()
    }

    fn plan(current: i64, versions: &[i64]) -> Plan {
        Plan {
            direction: Direction::Up,
            current,
            target: *versions.last().unwrap_or(&current),
            steps: versions
                .iter()
                .map(|&version| Step {
                    version,
                    name: format!("m{version}"),
                    file: format!("V{version}__m{version}.sql"),
                    transactional: true,
                    timeouts: crate::catalogue::Timeouts::default(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_failure_between_both_windows_is_named_with_both() {
        let stranded = stranding(&plan(5, &[6, 7, 8]), &compat());
        assert_eq!(stranded.len(), 1);
        assert_eq!(
            stranded[0].to_string(),
            "if step 7 (V7__m7.sql) fails the schema stays at 6: outside v1.3.0 [3, 5] and v1.4.0 [7, 8]"
        );
    }

    #[test]
    fn no_running_release_known_or_every_stop_inside_a_window_is_not_stranding() {
        assert!(stranding(&plan(0, &[1, 2, 7]), &compat()).is_empty());
        assert!(stranding(&plan(5, &[7, 8]), &compat()).is_empty());
        let mut down = plan(8, &[8, 7, 6]);
        down.direction = Direction::Down;
        assert!(stranding(&down, &compat()).is_empty());
    }
}
