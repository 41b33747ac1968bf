//! `/health`: what the last refresh saw, judged against the release's window and rendered
//! once per refresh, so a request only clones a ready body (DESIGN §8).

use std::sync::RwLock;

use hyper::StatusCode;
use hyper::body::Bytes;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::Window;
use crate::fleet::Group;

/// What one refresh observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observation {
    /// The schema version read, or the last one known when the database was unreachable.
    pub current: i64,
    /// Whether the database answered.
    pub reachable: bool,
    /// Why it did not, when it did not.
    pub error: Option<String>,
    /// When the refresh ran.
    pub checked_at: OffsetDateTime,
}

/// The fixed facts `/health` judges an observation against.
#[derive(Debug, Clone)]
pub(crate) struct Judge {
    /// `v1.4.0`.
    pub app_version: String,
    /// The engine of the database (`postgresql`, `sqlite`), as `/health` names it.
    pub engine: &'static str,
    /// The release's window.
    pub window: Window,
    /// The versions of the release's catalogue, sorted, to count pending migrations.
    pub catalogue: Vec<i64>,
    /// The version the gate left (or found, with `--no-migrate`): a change away from it
    /// that leaves the window was made by someone else.
    pub baseline: i64,
    /// `--no-migrate`: below the window means "waiting for the migration Job" (which may
    /// have applied part of its migrations already).
    pub no_migrate: bool,
}

#[cfg(test)]
impl Judge {
    /// `compat`'s release on PostgreSQL at schema 0, without a catalogue and with
    /// `--no-migrate`: the refresh's tests and benchmark judge with it.
    pub(crate) fn of(compat: &crate::config::Compat) -> Self {
        Self {
            app_version: compat.tag(),
            engine: "postgresql",
            window: compat.window,
            catalogue: Vec::new(),
            baseline: 0,
            no_migrate: true,
        }
    }
}

/// A judged observation: the verdict and the rendered response.
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    /// 200 or 503.
    pub status: StatusCode,
    /// The JSON body.
    pub body: Bytes,
    /// The schema is inside the window.
    pub compatible: bool,
    /// Migrations of the catalogue above the current version, up to the target.
    pub pending: usize,
    /// Why it fails, if it does.
    pub reason: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    status: &'static str,
    version: &'a str,
    schema: Schema<'a>,
    database: Database,
    fleet: &'a [Group],
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

#[derive(Serialize)]
struct Schema<'a> {
    current: i64,
    min: i64,
    max: i64,
    pending: usize,
    compatible: bool,
    drift: Option<&'a Drifted>,
}

/// The live schema's drift from the recorded description, as `/health` shows it
/// (`schema.drift`; `null` while there is none, or nothing recorded to compare with).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Drifted {
    /// When a check first saw it (RFC 3339).
    pub since: String,
    /// How many objects differ.
    pub count: usize,
    /// The first few, by kind and name (`extra column public.users.nickname`).
    pub objects: Vec<String>,
}

#[derive(Serialize)]
struct Database {
    engine: &'static str,
    reachable: bool,
    checked_at: String,
}

impl Judge {
    /// Judges an observation and renders the `/health` response, with no fleet or drift
    /// known yet.
    pub(crate) fn judge(&self, seen: &Observation) -> Verdict {
        self.judge_with(seen, &[], None)
    }

    /// Judges an observation and renders the `/health` response with the live fleet and
    /// the schema's drift (both informative: neither makes this replica unready).
    pub(crate) fn judge_with(
        &self,
        seen: &Observation,
        fleet: &[Group],
        drift: Option<&Drifted>,
    ) -> Verdict {
        let window = &self.window;
        let current = seen.current;
        let compatible = window.contains(current);
        let pending = self
            .catalogue
            .iter()
            .filter(|&&v| v > current && v <= window.target)
            .count();
        let reason = if !seen.reachable {
            Some(format!(
                "database unreachable: {}",
                seen.error.as_deref().unwrap_or("no answer")
            ))
        } else if compatible {
            None
        } else if self.no_migrate && current < window.min {
            Some(format!(
                "schema {current} is below this release's min {}; waiting for the migration Job (--no-migrate)",
                window.min
            ))
        } else if current != self.baseline {
            Some(format!(
                "schema changed out of band from {} to {current}, outside this release's window [{}, {}]",
                self.baseline, window.min, window.max
            ))
        } else {
            Some(format!(
                "schema {current} is outside this release's window [{}, {}]",
                window.min, window.max
            ))
        };
        let body = Body {
            status: if reason.is_none() { "ok" } else { "fail" },
            version: &self.app_version,
            schema: Schema {
                current,
                min: window.min,
                max: window.max,
                pending,
                compatible,
                drift,
            },
            database: Database {
                engine: self.engine,
                reachable: seen.reachable,
                checked_at: seen.checked_at.format(&Rfc3339).unwrap_or_default(),
            },
            fleet,
            reason: reason.as_deref(),
        };
        let body = serde_json::to_vec(&body).map_or_else(|_| Bytes::new(), Bytes::from);
        Verdict {
            status: if reason.is_none() {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            },
            body,
            compatible,
            pending,
            reason,
        }
    }
}

/// The cached `/health` response: written by the refresh, read by every request.
#[derive(Debug)]
pub(crate) struct Health {
    current: RwLock<(StatusCode, Bytes)>,
}

impl Health {
    /// The cache, holding a first verdict.
    #[cfg(test)]
    pub(crate) fn new(verdict: &Verdict) -> Self {
        Self {
            current: RwLock::new((verdict.status, verdict.body.clone())),
        }
    }

    /// The response before the gate has judged anything: 503, the gate is not done.
    pub(crate) fn starting(app_version: &str) -> Self {
        Self {
            current: RwLock::new(waiting(app_version, "the gate has not finished yet")),
        }
    }

    /// While the gate waits (for the lock, the database, the fleet): 503 and why.
    pub(crate) fn set_waiting(&self, app_version: &str, reason: &str) {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *current = waiting(app_version, reason);
    }

    /// Replaces the cached response.
    pub(crate) fn set(&self, verdict: &Verdict) {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *current = (verdict.status, verdict.body.clone());
    }

    /// The cached response (cloning `Bytes` only bumps a reference count).
    pub(crate) fn get(&self) -> (StatusCode, Bytes) {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The 503 of a gate that is not done.
fn waiting(app_version: &str, reason: &str) -> (StatusCode, Bytes) {
    let body = serde_json::json!({
        "status": "starting",
        "version": app_version,
        "reason": reason,
    });
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Bytes::from(body.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(baseline: i64, no_migrate: bool) -> Judge {
        Judge {
            app_version: "v1.4.0".to_owned(),
            engine: "postgresql",
            window: Window {
                min: 5,
                max: 7,
                target: 7,
            },
            catalogue: (1..=7).collect(),
            baseline,
            no_migrate,
        }
    }

    fn seen(current: i64, reachable: bool) -> Observation {
        Observation {
            current,
            reachable,
            error: (!reachable).then(|| "connection refused".to_owned()),
            checked_at: time::macros::datetime!(2026-11-22 10:00 UTC),
        }
    }

    fn json(verdict: &Verdict) -> serde_json::Value {
        serde_json::from_slice(&verdict.body).unwrap()
    }

    #[test]
    fn a_schema_inside_the_window_is_ok_with_the_design_fields() {
        let verdict = judge(7, false).judge(&seen(7, true));
        assert_eq!(verdict.status, StatusCode::OK);
        assert_eq!(
            json(&verdict),
            serde_json::json!({"status":"ok","version":"v1.4.0",
                "schema":{"current":7,"min":5,"max":7,"pending":0,"compatible":true,"drift":null},
                "database":{"engine":"postgresql","reachable":true,"checked_at":"2026-11-22T10:00:00Z"},
                "fleet":[]})
        );
    }

    #[test]
    fn the_fleet_is_listed_by_release_with_its_window() {
        let fleet = [Group {
            version: "v1.3.0".to_owned(),
            replicas: 2,
            min: 3,
            max: 4,
        }];
        let verdict = judge(7, false).judge_with(&seen(7, true), &fleet, None);
        assert_eq!(
            json(&verdict)["fleet"],
            serde_json::json!([{"version":"v1.3.0","replicas":2,"min":3,"max":4}])
        );
        assert_eq!(verdict.status, StatusCode::OK);
    }

    #[test]
    fn drift_is_shown_and_leaves_the_replica_ready() {
        let drifted = Drifted {
            since: "2026-11-22T10:00:00Z".to_owned(),
            count: 1,
            objects: vec!["extra column public.t.x".to_owned()],
        };
        let verdict = judge(7, false).judge_with(&seen(7, true), &[], Some(&drifted));
        assert_eq!(verdict.status, StatusCode::OK);
        assert_eq!(
            json(&verdict)["schema"]["drift"],
            serde_json::json!({"since":"2026-11-22T10:00:00Z","count":1,"objects":["extra column public.t.x"]})
        );
    }

    #[test]
    fn failures_say_why() {
        let reason = |j: Judge, s| j.judge(&s).reason.unwrap();
        assert!(reason(judge(7, false), seen(7, false)).starts_with("database unreachable"));
        assert!(reason(judge(7, false), seen(9, true)).contains("changed out of band from 7 to 9"));
        assert!(reason(judge(3, true), seen(3, true)).contains("waiting for the migration Job"));
        let below = judge(3, true).judge(&seen(3, true));
        assert_eq!(below.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(below.pending, 4);
        assert_eq!(json(&below)["status"], "fail");
    }
}
