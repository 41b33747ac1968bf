//! The one place that listens for SIGTERM and SIGINT (STYLE 2), from the first instant of a
//! run: as PID 1 in a container an unhandled SIGTERM is ignored, and the orchestrator has to
//! SIGKILL after its grace period, mid-backup or mid-migration.
//!
//! A [`Stop`] is a cheap, cloneable view of "has a signal arrived?". The gate polls it
//! between steps (the running step finishes; no new one starts), races it against waits
//! (the database, the lock, the backup), and `serve` uses it as its shutdown future.

use tokio::sync::watch;

/// Whether, and by which signal, this run was asked to stop.
#[derive(Debug, Clone)]
pub struct Stop {
    signal: watch::Receiver<Option<&'static str>>,
}

impl Stop {
    /// Installs the SIGTERM and SIGINT handlers now and returns their view. Must be called
    /// inside the runtime.
    pub fn on_signals() -> Self {
        let (sender, signal) = watch::channel(None);
        tokio::spawn(async move {
            let name = first_signal().await;
            tracing::info!(signal = name, "stop requested");
            let _ = sender.send(Some(name));
            // Keep the sender alive so `wait` never sees a closed channel as a stop.
            std::future::pending::<()>().await;
        });
        Self { signal }
    }

    /// A stop that never comes: for an application that handles signals itself (and stops
    /// `serve` through its own shutdown future), and for tests.
    pub fn never() -> Self {
        let (_, signal) = watch::channel(None);
        Self { signal }
    }

    /// The signal received so far, if any.
    pub fn requested(&self) -> Option<&'static str> {
        *self.signal.borrow()
    }

    /// Completes with the signal's name once one has arrived (at once if it already has).
    /// Never completes when nothing can send one any more.
    pub async fn wait(&self) -> &'static str {
        let mut signal = self.signal.clone();
        let received = signal
            .wait_for(Option::is_some)
            .await
            .map(|name| name.unwrap_or("a signal"));
        match received {
            Ok(name) => name,
            Err(_) => std::future::pending().await,
        }
    }
}

/// Completes at the first SIGTERM (Kubernetes, Docker) or SIGINT (Ctrl-C).
async fn first_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        },
        (Err(error), _) | (_, Err(error)) => {
            // Without handlers the default action (exit) still applies; run until killed.
            tracing::error!(%error, "cannot install signal handlers; graceful shutdown disabled");
            std::future::pending().await
        }
    }
}
