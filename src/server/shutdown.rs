//! The one place that listens for SIGTERM and SIGINT (STYLE 2): the binary passes
//! [`signal`] as the shutdown future; tests pass their own.

/// Completes at the first SIGTERM (Kubernetes, Docker) or SIGINT (Ctrl-C).
pub async fn signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut term, mut int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(term), Ok(int)) => (term, int),
        (Err(error), _) | (_, Err(error)) => {
            // Without handlers the default action (exit) still applies; run until killed.
            tracing::error!(%error, "cannot install signal handlers; graceful shutdown disabled");
            std::future::pending::<()>().await;
            return;
        }
    };
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    tracing::info!(signal = name, "shutting down: finishing in-flight requests");
}
