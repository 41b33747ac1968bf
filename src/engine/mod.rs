//! The engine seam (DESIGN §17): everything the gate does to a database, as a small family
//! of traits with one implementation per engine, each in its own wing of the crate
//! (`src/postgres/`). The gate's recipe above it (read the history, plan, lint, admission,
//! primary check, backup, act, audit, verdict) is written once and names no driver.
//!
//! - [`route`]: the URL's scheme picks the engine: the one place a wing plugs in.
//! - [`database`]: [`Engine`], one database URL: connect, lock, backup, restore, scratch,
//!   the grammar.
//! - [`session`]: [`Session`], one open connection: history, steps, audit, fleet, primary,
//!   describing the schema, another tool's history.
//! - [`lock`]: [`Lock`], the held migration lock and its session; [`Scratch`].
//! - [`grammar`]: [`Grammar`], the engine's own reading of SQL: splitting, certain
//!   failures, lint rules.
//! - [`pool`]: [`Pool`], the background refresh's reads.
//! - [`step`]: what running a plan's steps takes and gives, the same on every engine.
//!
//! Every fallible method returns the gate's [`crate::gate::Error`] with its exit code
//! already chosen by the wing, since only the wing knows its driver's errors.

pub(crate) mod database;
pub(crate) mod grammar;
pub(crate) mod lock;
pub(crate) mod pool;
pub(crate) mod route;
pub(crate) mod session;
pub(crate) mod step;

pub(crate) use database::{BackupRequest, Engine};
pub(crate) use grammar::Grammar;
pub(crate) use lock::{Lock, LockWait, Scratch};
pub(crate) use pool::{FleetAndAudit, Pool};
pub(crate) use route::{Context, Kind, grammar, kind, open};
pub(crate) use session::Session;
pub(crate) use step::{Executed, Execution, Observer, StatementAt, StepFailed};
