//! The HTTP service of DESIGN §8: `/health` (readiness from cached state), `/health/live`,
//! `/metrics` (Prometheus), kept current by a background refresh, stopped gracefully.
//!
//! - [`health`]: judging what a refresh saw against the window; the cached response.
//! - [`metrics`]: the registry of one application instance and every metric.
//! - [`refresh`]: the background task reading the schema version through the pool, and
//!   keeping the fleet and the audit-derived counters current.
//! - [`routes`]: paths, methods, 404 and 405.
//! - [`http`]: serving a bound listener until a shutdown future completes.
//! - [`limits`]: the header-read and keep-alive timeouts and the connection limit.
//! - `connections`: the open connections, their timeouts, and which to shed at the limit.
//! - `watched`: a connection's socket, telling its activity when bytes arrive.
//! - [`healthcheck`]: the client behind `schemagate healthcheck`.
//!
//! The wiring (gate, pool, first refresh, binding) is `gate::Application`; its shutdown
//! future is `crate::stop::Stop::wait` in the binary.

pub(crate) mod health;
pub mod healthcheck;
pub(crate) mod http;
pub(crate) mod limits;
pub(crate) mod metrics;
pub(crate) mod refresh;
pub(crate) mod routes;

mod connections;
mod watched;

pub(crate) use health::{Health, Judge, Observation};
pub use limits::ConnectionLimits;
pub(crate) use metrics::Metrics;
pub(crate) use refresh::Refresher;
pub(crate) use routes::State;
