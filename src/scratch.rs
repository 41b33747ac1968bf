//! Scratch databases: made by schemagate on a server (never the target database), with a
//! random name, migrated by the catalogue to prove something about it, and always dropped.
//! `baseline --verify` migrates one to the claimed version; `verify` runs every up, down and
//! up again on one.

use std::ops::ControlFlow;
use std::time::Duration;

use tokio_postgres::Client;

use crate::catalogue::Catalogue;
use crate::ddl::Limits;
use crate::migrate::{self, Execution, Observer, StepFailed};
use crate::plan::{Plan, Step};

/// A scratch database has no other sessions: nothing to wait for, nothing to bound.
const LIMITS: Limits = Limits {
    lock_timeout: Duration::from_secs(60),
    retries: 0,
    statement_timeout: None,
};

/// Creates a scratch database through `admin` (a session on the server; its user needs
/// `CREATEDB`) and returns its name.
pub async fn create(admin: &Client) -> Result<String, tokio_postgres::Error> {
    let name = name();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await?;
    Ok(name)
}

/// Drops the scratch database `name`, with its sessions; a failure is logged with the advice
/// to drop it by hand, as the work it served is done either way.
pub async fn remove(admin: &Client, name: &str) {
    if let Err(error) = admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
    {
        tracing::warn!(database = %name, error = %crate::db::describe(&error), "cannot drop the scratch database; drop it by hand");
    }
}

/// A name no one else uses: `schemagate_scratch_<pid>_<nanoseconds>`.
fn name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("schemagate_scratch_{}_{nanos}", std::process::id())
}

/// Runs a plan on a scratch database (its history table must exist).
pub async fn run(
    client: &mut Client,
    catalogue: &Catalogue,
    plan: &Plan,
) -> Result<(), StepFailed> {
    let execution = Execution {
        catalogue,
        plan,
        prelude: None,
        limits: LIMITS,
        atomic: false,
    };
    migrate::execute(client, &execution, &mut Unobserved)
        .await
        .map(drop)
}

/// Migrating a scratch database: nobody listens, nothing stops it between steps.
struct Unobserved;

impl Observer for Unobserved {
    fn step_done(&mut self, _: &Step, _: Duration) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }

    fn lock_wait(&mut self, _: &Step, _: usize, _: Option<Duration>) -> Option<String> {
        None
    }
}
