//! Serving: the routes on a bound listener until the shutdown future completes, then
//! draining in-flight requests (mini-redis `server::run(listener, shutdown)`, STYLE 2).

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use hyper::server::conn::AddrIncoming;
use hyper::service::make_service_fn;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::routes::{self, State};

/// How long in-flight requests may take to finish after the shutdown signal. A client that
/// opened a connection and never finishes its request cannot hold the process longer.
/// Below the 30 s Kubernetes gives by default before SIGKILL.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// Serves `state` on `listener` until `shutdown` completes; then stops accepting, lets
/// requests in flight finish (at most [`DRAIN_TIMEOUT`]) and tells `stopping` subscribers.
pub async fn run(
    listener: TcpListener,
    state: State,
    shutdown: impl Future<Output = ()> + Send + 'static,
    stopping: watch::Sender<bool>,
) -> Result<(), hyper::Error> {
    let mut incoming = AddrIncoming::from_listener(listener)?;
    // As warp's own `bind` does: small responses should not wait for Nagle.
    incoming.set_nodelay(true);
    let routes = routes::standalone(state);
    let make_service = make_service_fn(move |_| {
        let service = warp::service(routes.clone());
        async move { Ok::<_, Infallible>(service) }
    });
    let mut stopped = stopping.subscribe();
    let server = hyper::Server::builder(incoming)
        .serve(make_service)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stopping.send(true);
        });
    let drain_deadline = async move {
        let _ = stopped.wait_for(|stopping| *stopping).await;
        tokio::time::sleep(DRAIN_TIMEOUT).await;
    };
    tokio::select! {
        result = server => result,
        () = drain_deadline => {
            tracing::warn!(timeout = ?DRAIN_TIMEOUT, "requests still in flight after the drain timeout; closing them");
            Ok(())
        }
    }
}
