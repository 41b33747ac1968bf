//! The routes: `/health`, `/health/live`, `/metrics` (405 for other methods on them).
//! [`routes`] rejects every other path, so an application mounts it beside its own with
//! `.or()`; [`standalone`] answers them with a JSON 404, as `serve` does.
//!
//! One explicit `match` on (path, method) rather than a chain of warp filters joined by
//! `or`: every request costs one comparison per route instead of a rejection per route,
//! and the 404/405 rules are visible in one place.

use std::sync::Arc;

use hyper::body::Bytes;
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::{Body, Method, Response, StatusCode};
use warp::Filter;
use warp::path::FullPath;

use super::health::Health;
use super::metrics::{self, Metrics};

/// What the routes read: the cached health and the registry.
#[derive(Clone)]
pub(crate) struct State {
    /// The cached `/health` response.
    pub health: Arc<Health>,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
}

const JSON: &str = "application/json";

/// The gate's paths; any other path is rejected (`warp::reject::not_found`) for the next
/// filter of an `.or()` chain.
pub(crate) fn routes(
    state: State,
) -> impl Filter<Extract = (Response<Body>,), Error = warp::Rejection> + Clone {
    warp::path::full()
        .and(warp::method())
        .and_then(move |path: FullPath, method: Method| {
            let answered =
                respond(&state, path.as_str(), &method).ok_or_else(warp::reject::not_found);
            std::future::ready(answered)
        })
}

/// The standalone service: the gate's paths, a JSON 404 for every other one, and one
/// debug log line per request.
pub(crate) fn standalone(
    state: State,
) -> impl Filter<Extract = (impl warp::Reply,), Error = std::convert::Infallible> + Clone {
    routes(state)
        .or(warp::path::full()
            .map(|path: FullPath| error(StatusCode::NOT_FOUND, "not found", path.as_str())))
        .with(warp::log::custom(|info| {
            tracing::debug!(
                method = %info.method(),
                path = info.path(),
                status = info.status().as_u16(),
                micros = u64::try_from(info.elapsed().as_micros()).unwrap_or(u64::MAX),
                "request"
            );
        }))
}

/// The answer of one of the gate's paths, `None` for any other.
fn respond(state: &State, path: &str, method: &Method) -> Option<Response<Body>> {
    let readable = *method == Method::GET || *method == Method::HEAD;
    Some(match (path, readable) {
        ("/health", true) => {
            let (status, body) = state.health.get();
            reply(status, JSON, body)
        }
        ("/health/live", true) => reply(
            StatusCode::OK,
            JSON,
            Bytes::from_static(b"{\"status\":\"ok\"}"),
        ),
        ("/metrics", true) => match state.metrics.encode() {
            Ok(text) => reply(StatusCode::OK, metrics::CONTENT_TYPE, text),
            Err(failure) => {
                tracing::error!(error = %failure, "encoding metrics failed");
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "encoding metrics failed",
                    path,
                )
            }
        },
        ("/health" | "/health/live" | "/metrics", false) => {
            let mut response = error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed", path);
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            response
        }
        _ => return None,
    })
}

fn reply(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A JSON error answer naming the path.
pub(super) fn error(status: StatusCode, message: &str, path: &str) -> Response<Body> {
    let body = serde_json::json!({ "error": message, "path": path }).to_string();
    reply(status, JSON, Bytes::from(body))
}
