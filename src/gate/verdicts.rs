//! Every verdict a change meets before it changes anything (DESIGN §18): a real run stops at
//! the first refusal; a dry run shows each one, goes on to the next, and ends with the
//! first, so `plan` exits with the code the real run would give and says everything that
//! stands in its way at once.

use super::builder::Gate;
use super::error::{Error, Exit};
use super::event::Event;
use crate::engine::Session;
use crate::fleet;
use crate::plan::Plan;

/// The refusals met so far, and whether to go on after one.
pub(crate) struct Verdicts<'g> {
    gate: &'g Gate,
    first: Option<Error>,
}

impl<'g> Verdicts<'g> {
    /// Verdicts of a run of `gate`: collected on a dry run, fatal otherwise.
    pub(crate) fn new(gate: &'g Gate) -> Self {
        Self { gate, first: None }
    }

    /// Passes a verdict's value on. A refusal (exit 2 or 3) ends a real run; a dry run
    /// tells it, keeps the first, and goes on (`None`). Any other failure (the database
    /// went away, say) ends both.
    pub(crate) fn keep<T>(&mut self, judged: Result<T, Error>) -> Result<Option<T>, Error> {
        match judged {
            Ok(value) => Ok(Some(value)),
            Err(error) if self.gate.settings.dry_run && is_verdict(&error) => {
                self.gate.tell(Event::Refused(&error));
                self.first.get_or_insert(error);
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// Ends a dry run (it tells that nothing changed) with the first refusal, if any: the
    /// real run's outcome.
    pub(crate) fn end(self) -> Result<(), Error> {
        if self.gate.settings.dry_run {
            self.gate.tell(Event::NothingChanged);
        }
        self.first.map_or(Ok(()), Err)
    }
}

/// The end of a dry run of a rollback, a baseline or an adoption, after it told what it
/// would do: the verdicts the real run meets before its backup — the fleet's admission,
/// `--atomic`'s limits for the steps it would run (`plan`), the primary — shown, and the
/// first refusal as the outcome.
pub(crate) async fn preview_change(
    gate: &Gate,
    client: &dyn Session,
    change: fleet::Change,
    plan: Option<&Plan>,
) -> Result<(), Error> {
    let mut verdicts = Verdicts::new(gate);
    let (live, verdict) = gate.admission(client, change).await?;
    gate.tell(Event::Admission {
        fleet: &fleet::summary(&live),
        verdict: &verdict.shown(),
    });
    verdicts.keep(verdict.refusal())?;
    if let Some(plan) = plan {
        verdicts.keep(super::atomic::fits(gate, client, plan).await)?;
    }
    verdicts.keep(client.writable_primary().await)?;
    verdicts.end()
}

/// Whether `error` judges the plan (a refusal or a bad file) rather than reports a failure.
fn is_verdict(error: &Error) -> bool {
    matches!(error.exit(), Exit::Refused | Exit::Usage)
}
