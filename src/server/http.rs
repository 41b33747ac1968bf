//! Serving: the routes on a bound listener until the shutdown future completes, then
//! draining in-flight requests (mini-redis `server::run(listener, shutdown)`, STYLE 2).
//!
//! The accept loop is ours rather than `hyper::Server`'s so that every connection is
//! bounded ([`ConnectionLimits`]): each is served by its own task, which closes it when
//! its headers are late, when it idles past the keep-alive timeout, or when the registry
//! sheds it to admit a newer one. When descriptors run out anyway (`EMFILE`), the loop
//! sheds the connections idle longest and pauses briefly (growing the pause when none can
//! be shed), logging it at most once a minute, instead of retrying every second and
//! logging each time as hyper's `AddrIncoming` does.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use hyper::header::{CONNECTION, HeaderValue, TRANSFER_ENCODING};
use hyper::server::conn::Http;
use hyper::service::{Service, service_fn};
use hyper::{Body, Request, Response, StatusCode};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::connections::{Activity, Connections, Ending, Phase, Registration, Throttle};
use super::limits::ConnectionLimits;
use super::routes::{self, State};
use super::watched::Watched;

/// How long in-flight requests may take to finish after the shutdown signal. A client that
/// opened a connection and never finishes its request cannot hold the process longer.
/// Below the 30 s Kubernetes gives by default before SIGKILL.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// The queue of connections the kernel completes before the accept loop takes them
/// (capped by `net.core.somaxconn`, 4,096 on current kernels). When it is full the kernel
/// drops a new SYN and the client sends it again only after a second, a probe's whole
/// timeout: tokio's 1,024 filled when 1,100 clients connected faster than a loaded machine
/// accepted them.
const BACKLOG: u32 = 4_096;

/// How many idle connections an accept that failed for want of descriptors closes: enough
/// that the connections waiting in the backlog (a probe among them) are accepted at once,
/// not one per failure.
const SHED_AT_ONCE: usize = 16;

/// The pause that lets the connections just shed close their sockets.
const SHED_PAUSE: Duration = Duration::from_millis(1);

/// The first pause after an accept failed and nothing could be shed; it doubles up to
/// [`MAX_PAUSE`] while accepting keeps failing.
const FIRST_PAUSE: Duration = Duration::from_millis(10);
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// A listener on `address` with a [`BACKLOG`]-deep queue, `SO_REUSEADDR` set as tokio's
/// own `bind` sets it (a restarted server binds while its old connections linger).
pub(crate) fn bind(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(BACKLOG)
}

/// Serves `state` on `listener` within `limits` until `shutdown` completes; then stops
/// accepting, lets requests in flight finish (at most [`DRAIN_TIMEOUT`]) and tells
/// `stopping` subscribers.
pub(crate) async fn run(
    listener: TcpListener,
    state: State,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    stopping: watch::Sender<bool>,
) {
    let routes = warp::service(routes::standalone(state));
    let connections = Connections::new(limits);
    let mut served = JoinSet::new();
    let mut accepting = Accepting::default();
    let mut shutdown = pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            stream = accepting.next(&listener, &connections) => stream,
        };
        while served.try_join_next().is_some() {}
        match connections.admit() {
            Some(registration) => {
                served.spawn(serve(stream, registration, routes.clone()));
            }
            None => tracing::debug!("every connection is being answered; refusing a new one"),
        }
    }
    drop(listener);
    connections.stop_all();
    let _ = stopping.send(true);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while served.join_next().await.is_some() {}
    });
    if drained.await.is_err() {
        tracing::warn!(timeout = ?DRAIN_TIMEOUT, "requests still in flight after the drain timeout; closing them");
        served.shutdown().await;
    }
}

/// Accepting with a pause after failures for want of resources.
#[derive(Default)]
struct Accepting {
    pause: Option<Duration>,
    warned: Throttle,
}

impl Accepting {
    /// The next connection. Errors of one connection (reset or aborted before it was
    /// accepted) are skipped; any other (`EMFILE`, `ENFILE`, `ENOMEM`) sheds the
    /// connections idle longest and pauses before the next attempt: briefly when some
    /// could be shed, longer and longer when none could.
    async fn next(&mut self, listener: &TcpListener, connections: &Connections) -> TcpStream {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    self.pause = None;
                    // As warp's own `bind` does: small responses should not wait for Nagle.
                    if let Err(error) = stream.set_nodelay(true) {
                        tracing::debug!(%error, "cannot set TCP_NODELAY");
                    }
                    return stream;
                }
                Err(error) if of_one_connection(&error) => {
                    tracing::debug!(%error, "a connection failed before it was accepted");
                }
                Err(error) => {
                    let shed = connections.shed(SHED_AT_ONCE);
                    let pause = if shed > 0 {
                        SHED_PAUSE
                    } else {
                        let pause = self.pause.map_or(FIRST_PAUSE, |p| (p * 2).min(MAX_PAUSE));
                        self.pause = Some(pause);
                        pause
                    };
                    if let Some(held_back) = self.warned.due() {
                        tracing::warn!(%error, shed, held_back, "cannot accept connections; closing the connections idle longest (keep --max-connections below the descriptor limit, ulimit -n)");
                    }
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }
}

/// Whether an accept error concerns only the connection being accepted.
fn of_one_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    )
}

/// Why a connection's task ended.
enum Ended {
    /// The client or hyper closed it.
    Served(Result<(), hyper::Error>),
    /// It stayed in `Phase` past its timeout.
    TimedOut(Phase),
    /// The registry closed it to make room.
    Shed,
}

/// Serves one connection until it ends, times out or is shed; told that the server stops,
/// lets the request in flight finish and closes it (hyper's graceful shutdown).
async fn serve<S>(stream: TcpStream, registration: Registration, routes: S)
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Send + 'static,
    S::Future: Send,
{
    let activity = Arc::clone(registration.activity());
    let limits = *registration.limits();
    let watched = Watched::new(stream, Arc::clone(&activity));
    let mut connection = pin!(
        Http::new()
            .http1_only(true)
            .serve_connection(watched, answer(routes, Arc::clone(&activity)))
    );
    let mut ending = pin!(activity.ending());
    let mut stopping = false;
    let mut timer = pin!(tokio::time::sleep(limits.header_read_timeout));
    let ended = std::future::poll_fn(|cx| {
        if !stopping && let Poll::Ready(told) = ending.as_mut().poll(cx) {
            match told {
                Ending::Shed => return Poll::Ready(Ended::Shed),
                Ending::Stop => {
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
        if let Poll::Ready(result) = connection.as_mut().poll(cx) {
            return Poll::Ready(Ended::Served(result));
        }
        // The phase changes only while `connection` is polled, just above. The timer is
        // moved earlier at once, but later only when it fires: a keep-alive request pushes
        // the deadline on, and re-arming the timer for each one would cost 3 % of /health's
        // throughput.
        if let Some((deadline, phase)) = activity.deadline(&limits) {
            if deadline < timer.deadline() {
                timer.as_mut().reset(deadline);
            }
            while timer.as_mut().poll(cx).is_ready() {
                if timer.deadline() >= deadline {
                    return Poll::Ready(Ended::TimedOut(phase));
                }
                timer.as_mut().reset(deadline);
            }
        }
        Poll::Pending
    })
    .await;
    match ended {
        Ended::Served(Ok(())) => {}
        Ended::Served(Err(error)) => tracing::debug!(%error, "connection failed"),
        Ended::TimedOut(phase) => tracing::debug!(?phase, "connection closed: timed out"),
        Ended::Shed => tracing::debug!("connection closed to make room for a new one"),
    }
    drop(registration);
}

/// The service of one connection: `routes`, with the connection's phase kept, and a
/// request that frames its body with `Transfer-Encoding` refused.
fn answer<S>(
    mut routes: S,
    activity: Arc<Activity>,
) -> impl Service<
    Request<Body>,
    Response = Response<Body>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<Body>, Infallible>> + Send,
> + Send
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Send + 'static,
    S::Future: Send,
{
    service_fn(move |request: Request<Body>| {
        let routed = if request.headers().contains_key(TRANSFER_ENCODING) {
            Err(refuse_transfer_encoding(request.uri().path()))
        } else {
            activity.enter(Phase::Busy);
            Ok(routes.call(request))
        };
        let activity = Arc::clone(&activity);
        async move {
            match routed {
                Err(refused) => Ok(refused),
                Ok(routed) => {
                    let response = routed.await;
                    activity.enter(Phase::Idle);
                    response
                }
            }
        }
    })
}

/// 400 and close the connection: nothing here takes a body, and a request framed by both
/// `Content-Length` and `Transfer-Encoding` is how requests are smuggled past a proxy
/// that reads the other header (RFC 9112 §6.1: close after responding). Every request
/// with `Transfer-Encoding` is refused, because hyper drops a `Content-Length` that
/// follows it before the service can see both.
fn refuse_transfer_encoding(path: &str) -> Response<Body> {
    tracing::debug!(path, "refused a request with Transfer-Encoding");
    let mut response = routes::error(
        StatusCode::BAD_REQUEST,
        "Transfer-Encoding is not accepted: these paths take no body",
        path,
    );
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}
