//! The gate as a library (DESIGN §1 and §13): a [`Release`] (catalogue and window) gated
//! against one database by a [`Gate`], built with [`Gate::builder`]. The `schemagate`
//! binary is one client of it; an application embedding its own migrations is another.
//!
//! - [`builder`]: [`Release`], [`Gate`], [`GateBuilder`]: settings in, nothing connected yet.
//! - [`settings`]: every setting with the CLI's defaults.
//! - [`error`]: [`Exit`] codes and the typed [`Error`] of each situation.
//! - [`report`]: [`Report`], what a gate run did.
//! - [`run`]: the gate itself (lock, plan, lint, backup, steps, verdict), `check`, `status`.
//! - [`serve`]: `/health` and `/metrics` as a composable warp filter, the background
//!   refresh, and the standalone [`Application`].
//! - `recipe`: the one recipe every change follows under the lock: admission, the
//!   writable primary, backup, the act (a closure), the schema's description, audit.
//! - `drift`: the description each change left, compared with the live schema (`diff`,
//!   `status`, the gate's drift verdict).
//! - `locked`, `steps`, `lint`: what every change does under the lock (take it, refuse a
//!   standby, guard long work, audit), running a plan's steps, and linting it first.
//! - `verdicts`, `atomic`: every verdict before a change (a dry run shows them all and
//!   exits as the real run would), and `--atomic`'s refusals.
//! - `backups`, `rollback`, `baseline`, `adopt`, `verify`: the other commands, each a
//!   method of [`Gate`], telling their plans and progress as [`event`]s.
//! - [`event`]: what those commands tell while they work; the library itself never prints.

pub(crate) mod builder;
pub(crate) mod error;
pub(crate) mod event;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod settings;

mod adopt;
mod atomic;
mod backups;
mod baseline;
mod drift;
mod lint;
mod locked;
mod recipe;
mod repair;
mod rollback;
mod steps;
mod verdicts;
mod verify;

/// The wait for the sessions a command opened to end, before the process exits.
pub use crate::engine::route::sessions_closed;
pub use builder::{EarlySession, Gate, GateBuilder, Release, SettingError};
pub use drift::Diff;
pub use error::{Cause, Error, Exit, Reason, Stopped, chain};
pub use event::Event;
pub use repair::Repaired;
pub use report::Report;
pub use run::Status;
pub use serve::Application;
pub use settings::{BackupSettings, FleetSettings, ServiceSettings, Settings};
