//! Live schema drift in the gate (DESIGN §19): the description every change leaves is
//! recorded under the lock; `diff`, `status`, `check` and the gate's verdicts compare the
//! live schema with the newest record; `[drift] refuse` turns drift into a refusal.

use serde::Serialize;

use super::builder::Gate;
use super::error::{Error, Exit};
use super::event::Event;
use crate::drift::{Drift, Recorded};
use crate::engine::Session;

/// The live schema against the newest recorded description (`schemagate diff`).
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    /// The record compared with; `None` before the first change that records one.
    recorded: Option<Head>,
    /// What differs (empty without a record: nothing is compared against nothing).
    #[serde(flatten)]
    drift: Drift,
}

/// Which record a diff is against.
#[derive(Debug, Clone, Serialize)]
struct Head {
    id: i64,
    recorded_at: String,
    version: i64,
    fingerprint: String,
    /// A change began after it and has not recorded what it left: nothing is compared.
    superseded: bool,
}

impl Diff {
    /// Whether the live schema is as recorded (also when nothing is recorded yet).
    pub fn is_empty(&self) -> bool {
        self.drift.is_empty()
    }

    /// Whether a description was recorded to compare with.
    pub fn has_record(&self) -> bool {
        self.recorded.is_some()
    }

    /// One line for `status`, `check` and the gate's log: none, no record, or how many
    /// objects differ and the first few.
    pub fn summary(&self) -> String {
        match &self.recorded {
            None => "no description recorded yet (the database was last changed before schemagate recorded them); \
                     the next change records one, and drift is checked from then on"
                .to_owned(),
            Some(head) if head.superseded => format!(
                "not checked: a change began after the newest description (recorded after the change to version {} \
                 at {}) and has not recorded what it left (it is under way, or it stopped before it could); \
                 the next change records one, and drift is checked from then on",
                head.version, head.recorded_at
            ),
            Some(head) if self.drift.is_empty() => format!(
                "none: the schema is as recorded after the change to version {} at {}",
                head.version, head.recorded_at
            ),
            Some(head) => format!(
                "{} (recorded after the change to version {} at {}); see `schemagate diff`",
                self.drift.summary(),
                head.version,
                head.recorded_at
            ),
        }
    }

    /// `diff`'s text: the record, then every missing, extra and changed object.
    pub fn text(&self) -> String {
        let mut text = format!("drift: {}\n", self.summary());
        for line in self.drift.lines() {
            text.push_str(&line);
            text.push('\n');
        }
        text
    }
}

impl Gate {
    /// `diff`: the live schema against the newest recorded description, `[drift] ignore`
    /// left out; read-only, no lock.
    pub async fn diff(&self) -> Result<Diff, Error> {
        let session = self.connect().await?;
        compared(self, session.as_ref()).await
    }
}

/// The live schema on `session` against its newest record.
pub(crate) async fn compared(gate: &Gate, session: &dyn Session) -> Result<Diff, Error> {
    let Some(recorded) = session.recorded_schema().await? else {
        return Ok(Diff {
            recorded: None,
            drift: Drift::default(),
        });
    };
    if recorded.superseded {
        return Ok(Diff {
            recorded: Some(head(recorded)),
            drift: Drift::default(),
        });
    }
    let live = session.describe().await?;
    let drift = Drift::between(&recorded.objects, &live, &gate.release.compat.drift.ignore);
    Ok(Diff {
        recorded: Some(head(recorded)),
        drift,
    })
}

fn head(recorded: Recorded) -> Head {
    Head {
        id: recorded.id,
        recorded_at: recorded.recorded_at,
        version: recorded.version,
        fingerprint: recorded.fingerprint,
        superseded: recorded.superseded,
    }
}

/// The drift verdict before a migration changes anything: with `[drift] refuse`, drift is
/// a refusal (exit 3, before the backup); without it, a warning. A dry run shows it.
pub(crate) async fn verdict(gate: &Gate, session: &dyn Session) -> Result<(), Error> {
    let diff = compared(gate, session).await?;
    if gate.settings.dry_run {
        gate.tell(Event::Drift(&diff.summary()));
    }
    if diff.is_empty() {
        return Ok(());
    }
    let settings = &gate.release.compat.drift;
    if settings.refuse {
        return Err(Error::new(
            Exit::Refused,
            Drifted {
                summary: diff.drift.summary(),
                compat: gate.release.compat.origin.clone(),
            },
        ));
    }
    if !gate.settings.dry_run {
        tracing::warn!(
            drift = %diff.summary(),
            "the live schema drifted from the recorded description; migrating anyway ([drift] refuse = false)"
        );
    }
    Ok(())
}

/// Marks the newest record superseded before a change alters anything (under the lock), so
/// that until the change records what it left nothing compares the schema with a record it
/// outdates: a change killed part way, whose steps committed in transactions of their own,
/// leaves no false drift. A failure is logged, not fatal, like the record's.
/// Gives the record it marked, for [`withdraw`].
pub(crate) async fn supersede(session: &dyn Session) -> Option<i64> {
    let marked = async {
        match session.recorded_schema().await? {
            Some(latest) if !latest.superseded => {
                session.mark_schema(latest.id, true).await?;
                Ok(Some(latest.id))
            }
            _ => Ok::<_, Error>(None),
        }
    };
    marked.await.unwrap_or_else(|error| {
        tracing::warn!(
            %error,
            "cannot mark the schema's description as superseded before the change; should the change stop part way, drift may be reported until the next change records"
        );
        None
    })
}

/// Clears [`supersede`]'s mark from record `marked` after an act that changed nothing (it
/// failed before its first write): the record describes the schema still.
pub(crate) async fn withdraw(session: &dyn Session, marked: Option<i64>) {
    let Some(id) = marked else {
        return;
    };
    if let Err(error) = session.mark_schema(id, false).await {
        tracing::warn!(
            %error,
            "the change made nothing, but the mark it set on the schema's description could not be cleared; drift is not checked until the next change records"
        );
    }
}

/// Records the description of the schema a change left (under the lock, right after it),
/// which clears [`supersede`]'s mark; when the newest record already says it at that
/// version (a change that failed and left everything as it was), the mark is cleared from
/// it and no row added. A failure is logged, not fatal: the change itself is committed,
/// the newest record stays superseded (so no drift is reported against it), and the next
/// change records again.
pub(crate) async fn record_left(session: &dyn Session, version: i64) {
    let recorded = async {
        let latest = session.recorded_schema().await?;
        let objects = session.describe().await?;
        match &latest {
            Some(latest)
                if latest.version == version
                    && latest.fingerprint == crate::drift::fingerprint(&objects) =>
            {
                if latest.superseded {
                    session.mark_schema(latest.id, false).await?;
                }
            }
            _ => session.record_schema(version, &objects).await?,
        }
        Ok::<_, Error>((latest.is_none(), objects.len()))
    };
    match recorded.await {
        Ok((true, objects)) => tracing::info!(
            objects,
            version,
            "no description of the schema was recorded before; recorded the one this change left: drift is checked from now on"
        ),
        Ok((false, objects)) => {
            tracing::debug!(objects, version, "recorded the schema's description")
        }
        Err(error) => tracing::warn!(
            %error,
            "the change was made but its schema description could not be recorded; drift is not checked until the next change records one"
        ),
    }
}

/// `[drift] refuse`: a migration of a drifted database.
#[derive(Debug, thiserror::Error)]
#[error(
    "refusing to migrate: the live schema drifted: {summary}; run `schemagate diff` to see every difference, then adopt \
     the change into a migration or repair the database (restore a backup, or undo it by hand); \
     `[drift] refuse = true` in {compat} refuses until then (nothing was changed)"
)]
struct Drifted {
    summary: String,
    compat: String,
}
