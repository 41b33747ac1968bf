//! The open connections of the standalone server: what each is doing since when (its
//! [`Activity`]), when it must be closed (the [`ConnectionLimits`] timeouts), and which to
//! close when the limit is reached or descriptors run out (the one idle longest, so a new
//! probe gets through).
//!
//! A connection's activity is set by the connection itself (its reads and its requests),
//! read by its own task to arm its timer, and by the accept loop to choose whom to shed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::limits::ConnectionLimits;

/// How often, at most, a condition that may repeat per connection is logged.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// What a connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Phase {
    /// Opened; its first request's headers have not all arrived.
    Opened = 0,
    /// Between requests, nothing of the next one received.
    Idle = 1,
    /// The first bytes of a later request arrived, not all its headers.
    Header = 2,
    /// A request is being answered.
    Busy = 3,
}

impl Phase {
    fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Opened,
            1 => Self::Idle,
            2 => Self::Header,
            _ => Self::Busy,
        }
    }

    /// How long a connection may stay in this phase; `None` while it is answered.
    fn allowed(self, limits: &ConnectionLimits) -> Option<Duration> {
        match self {
            Self::Opened | Self::Header => Some(limits.header_read_timeout),
            Self::Idle => Some(limits.keep_alive_timeout),
            Self::Busy => None,
        }
    }
}

/// Why a connection is told to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
    /// Closed at once, to make room.
    Shed,
    /// The server stops: finish the request in flight, then close.
    Stop,
}

/// One connection's phase and when it entered it, and whether it is told to end. Each
/// connection has its own [`Notify`]: one shared by all (a `watch` channel for the
/// shutdown) is a lock every connection takes at every wake, which cost 3 % of /health's
/// throughput on 2 cores.
pub(super) struct Activity {
    origin: Instant,
    phase: AtomicU8,
    /// Milliseconds from `origin` to the start of the phase.
    since: AtomicU64,
    /// `Ending as u8 + 1` once told, 0 before.
    ending: AtomicU8,
    told: Notify,
}

impl Activity {
    fn new(origin: Instant) -> Self {
        let activity = Self {
            origin,
            phase: AtomicU8::new(Phase::Opened as u8),
            since: AtomicU64::new(0),
            ending: AtomicU8::new(0),
            told: Notify::new(),
        };
        activity.enter(Phase::Opened);
        activity
    }

    fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Relaxed))
    }

    fn since(&self) -> Instant {
        self.origin + Duration::from_millis(self.since.load(Ordering::Relaxed))
    }

    /// Enters `phase` now.
    pub(super) fn enter(&self, phase: Phase) {
        let elapsed = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.since.store(elapsed, Ordering::Relaxed);
        self.phase.store(phase as u8, Ordering::Relaxed);
    }

    /// Bytes arrived: an idle connection starts reading its next request's headers.
    pub(super) fn received(&self) {
        if self.phase() == Phase::Idle {
            self.enter(Phase::Header);
        }
    }

    /// When the connection must be closed if it stays in its phase, and the phase.
    pub(super) fn deadline(&self, limits: &ConnectionLimits) -> Option<(Instant, Phase)> {
        let phase = self.phase();
        phase
            .allowed(limits)
            .map(|allowed| (self.since() + allowed, phase))
    }

    /// Tells the connection to end.
    fn tell(&self, ending: Ending) {
        self.ending.store(ending as u8 + 1, Ordering::Relaxed);
        self.told.notify_one();
    }

    /// Completes when the connection is told to end, with why.
    pub(super) async fn ending(&self) -> Ending {
        self.told.notified().await;
        match self.ending.load(Ordering::Relaxed) {
            1 => Ending::Shed,
            _ => Ending::Stop,
        }
    }

    /// Since when it waits for a request, `None` while one is answered.
    fn idle_since(&self) -> Option<Instant> {
        (self.phase() != Phase::Busy).then(|| self.since())
    }
}

/// Every open connection, within the limit.
pub(super) struct Connections {
    limits: ConnectionLimits,
    origin: Instant,
    next: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Activity>>>,
    at_limit: Throttle,
}

impl Connections {
    /// No connection yet.
    pub(super) fn new(limits: ConnectionLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            origin: Instant::now(),
            next: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
            at_limit: Throttle::default(),
        })
    }

    /// The limits it enforces.
    pub(super) fn limits(&self) -> &ConnectionLimits {
        &self.limits
    }

    /// Registers a connection just accepted. At the limit, the connection idle longest is
    /// closed to make room; `None` when every open connection is being answered.
    pub(super) fn admit(self: &Arc<Self>) -> Option<Registration> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.len() >= self.limits.max_connections {
            if !shed_longest_idle(&mut open) {
                return None;
            }
            if let Some(held_back) = self.at_limit.due() {
                tracing::warn!(
                    limit = self.limits.max_connections,
                    held_back,
                    "at the connection limit (--max-connections): closing the connections idle longest to admit new ones"
                );
            }
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let activity = Arc::new(Activity::new(self.origin));
        open.insert(id, Arc::clone(&activity));
        Some(Registration {
            connections: Arc::clone(self),
            id,
            activity,
        })
    }

    /// Tells every open connection that the server stops.
    pub(super) fn stop_all(&self) {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        for activity in open.values() {
            activity.tell(Ending::Stop);
        }
    }

    /// Closes up to `count` connections, those idle longest, to free their descriptors;
    /// how many (fewer when the others are being answered).
    pub(super) fn shed(&self, count: usize) -> usize {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        (0..count)
            .take_while(|_| shed_longest_idle(&mut open))
            .count()
    }
}

/// Removes the connection idle longest from `open` and tells it to close.
fn shed_longest_idle(open: &mut HashMap<u64, Arc<Activity>>) -> bool {
    let longest = open
        .iter()
        .filter_map(|(id, activity)| activity.idle_since().map(|since| (since, *id)))
        .min();
    match longest.and_then(|(_, id)| open.remove(&id)) {
        Some(activity) => {
            activity.tell(Ending::Shed);
            true
        }
        None => false,
    }
}

/// An open connection's place in [`Connections`], given back on drop.
pub(super) struct Registration {
    connections: Arc<Connections>,
    id: u64,
    activity: Arc<Activity>,
}

impl Registration {
    /// The connection's activity.
    pub(super) fn activity(&self) -> &Arc<Activity> {
        &self.activity
    }

    /// The limits of its server.
    pub(super) fn limits(&self) -> &ConnectionLimits {
        self.connections.limits()
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.connections
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// A warning that could repeat once per connection, let through at most once per
/// [`WARN_EVERY`]: under attack the log must not grow with the attacker's rate.
pub(super) struct Throttle {
    every: Duration,
    /// When it last let one through, and how many it held back since.
    state: Mutex<(Option<Instant>, u64)>,
}

impl Default for Throttle {
    fn default() -> Self {
        Self {
            every: WARN_EVERY,
            state: Mutex::default(),
        }
    }
}

impl Throttle {
    /// `Some(held back since the last one)` when this occurrence is to be logged.
    pub(super) fn due(&self) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (last, held_back) = &mut *state;
        let now = Instant::now();
        if last.is_some_and(|last| now.duration_since(last) < self.every) {
            *held_back += 1;
            return None;
        }
        *last = Some(now);
        Some(std::mem::take(held_back))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_millis(20);

    fn limits(max_connections: usize) -> ConnectionLimits {
        ConnectionLimits {
            max_connections,
            ..ConnectionLimits::default()
        }
    }

    async fn told_to_close(registration: &Registration) -> bool {
        tokio::time::timeout(TICK, registration.activity().ending())
            .await
            .is_ok_and(|ending| ending == Ending::Shed)
    }

    #[tokio::test]
    async fn at_the_limit_the_connection_idle_longest_makes_room() {
        let connections = Connections::new(limits(2));
        let oldest = connections.admit().unwrap();
        tokio::time::sleep(TICK).await;
        let answered = connections.admit().unwrap();
        answered.activity().enter(Phase::Busy);
        tokio::time::sleep(TICK).await;
        let newest = connections.admit().unwrap();
        assert!(told_to_close(&oldest).await, "the oldest idle one goes");
        // Now one is answered, one idle: the idle one goes, whatever its age.
        let fourth = connections.admit().unwrap();
        assert!(told_to_close(&newest).await, "the idle one goes");
        assert!(!told_to_close(&answered).await, "not the one answered");
        fourth.activity().enter(Phase::Busy);
        assert!(
            connections.admit().is_none(),
            "every connection is answered"
        );
        drop(answered);
        assert!(
            connections.admit().is_some(),
            "a closed connection frees its place"
        );
    }

    #[tokio::test]
    async fn each_phase_has_its_timeout_and_an_answered_request_none() {
        let limits = ConnectionLimits {
            header_read_timeout: Duration::from_secs(5),
            keep_alive_timeout: Duration::from_secs(75),
            max_connections: 1,
        };
        let near = |deadline: Option<(Instant, Phase)>, after: Duration, phase: Phase| {
            let (at, was) = deadline.unwrap();
            let expected = Instant::now() + after;
            assert_eq!(was, phase);
            assert!(
                at <= expected && expected - at < TICK,
                "{at:?} {expected:?}"
            );
        };
        let activity = Activity::new(Instant::now());
        near(
            activity.deadline(&limits),
            Duration::from_secs(5),
            Phase::Opened,
        );
        activity.received();
        near(
            activity.deadline(&limits),
            Duration::from_secs(5),
            Phase::Opened,
        );
        activity.enter(Phase::Busy);
        assert_eq!(activity.deadline(&limits), None);
        activity.enter(Phase::Idle);
        near(
            activity.deadline(&limits),
            Duration::from_secs(75),
            Phase::Idle,
        );
        tokio::time::sleep(TICK).await;
        activity.received();
        near(
            activity.deadline(&limits),
            Duration::from_secs(5),
            Phase::Header,
        );
    }

    #[tokio::test]
    async fn a_throttled_warning_passes_once_a_period_and_counts_the_rest() {
        let throttle = Throttle {
            every: TICK,
            state: Mutex::default(),
        };
        assert_eq!(throttle.due(), Some(0));
        assert_eq!(throttle.due(), None);
        assert_eq!(throttle.due(), None);
        tokio::time::sleep(TICK).await;
        assert_eq!(throttle.due(), Some(2));
    }
}
