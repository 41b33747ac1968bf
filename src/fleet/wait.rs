//! `--fleet-wait`: asking again every interval until the fleet admits the change or the
//! time runs out, logging what it waits for (who blocks, not only that it waits; STYLE 16).

use std::future::Future;
use std::time::{Duration, Instant};

use super::admission::{Admission, Change, admit};
use super::error::FleetError;
use super::replica::Replica;
use crate::config::Compat;

/// How long to wait for the fleet, and how often to look again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Wait {
    /// At most this long (`--fleet-wait`); zero looks once.
    pub timeout: Duration,
    /// Between two looks: the refresh interval, since rows change no faster than that.
    pub interval: Duration,
}

/// Tells `blocked` (the `{p}_fleet_blocked` gauge, say) that the wait is on, and that it
/// is over on every way out, a cancelled future included.
struct Blocked<F: FnMut(bool)> {
    set: F,
    on: bool,
}

impl<F: FnMut(bool)> Blocked<F> {
    fn on(&mut self) {
        if !self.on {
            (self.set)(true);
            self.on = true;
        }
    }
}

impl<F: FnMut(bool)> Drop for Blocked<F> {
    fn drop(&mut self) {
        if self.on {
            (self.set)(false);
        }
    }
}

/// Reads the live replicas with `read` and judges `change` by the release of `compat`
/// until admitted (returning how long that took) or `wait.timeout` has passed: then
/// [`FleetError::Refused`] when there was no time to wait, [`FleetError::StillRefused`]
/// after waiting. The last look is at the deadline itself. `blocked(true)` is called
/// when the wait starts and `blocked(false)` when it ends, however it ends. A failure to
/// read ends the wait with that error (`E`: the fleet's own, or the caller's).
pub(crate) async fn until_admitted<F, Fut, E>(
    mut read: F,
    change: Change,
    compat: &Compat,
    wait: Wait,
    blocked: impl FnMut(bool),
) -> Result<Duration, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Vec<Replica>, E>>,
    E: From<FleetError>,
{
    let started = Instant::now();
    let mut blocked = Blocked {
        set: blocked,
        on: false,
    };
    let mut reported: Option<String> = None;
    loop {
        let refusal = match admit(change, compat, &read().await?) {
            Admission::Admitted(_) => break,
            Admission::Refused(refusal) => refusal,
        };
        let waited = started.elapsed();
        let left = wait.timeout.saturating_sub(waited);
        if left.is_zero() {
            return Err(E::from(if wait.timeout.is_zero() {
                FleetError::Refused(refusal)
            } else {
                FleetError::StillRefused { waited, refusal }
            }));
        }
        blocked.on();
        let blocking = refusal.blocking();
        if reported.as_deref() != Some(blocking.as_str()) {
            tracing::info!(waiting_for = %blocking, ?waited, ?left, "waiting for the fleet to admit the change (--fleet-wait)");
            reported = Some(blocking);
        }
        tokio::time::sleep(wait.interval.min(left)).await;
    }
    let waited = started.elapsed();
    if reported.is_some() {
        tracing::info!(?waited, to = change.to, "the fleet admits the change");
    }
    Ok(waited)
}

#[cfg(test)]
mod tests;
