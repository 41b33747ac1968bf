//! The gate's refusal of a transaction pooler ([`crate::pooler`]), asked under the lock
//! before any change.

use super::builder::Gate;
use super::error::{Error, Exit};
use super::locked::primary_only;
use crate::lock::MigrationLock;
use crate::pooler;

/// Refuses (exit 4) when the lock's connection goes through a transaction pooler, where the
/// lock protects nothing: the URL has to change, as for a server that cannot be reached.
/// Asked only when there is something to change, so the no-op gate and dry runs pay no
/// second connection for it.
pub(crate) async fn session_only(gate: &Gate, lock: &MigrationLock) -> Result<(), Error> {
    let probe = gate.connect().await?;
    pooler::ensure_session(lock.connection(), lock.pid(), &probe)
        .await
        .map_err(|error| {
            let exit = match &error {
                pooler::PoolerError::Query(_) if !error.connection_lost() => Exit::Internal,
                _ => Exit::Unreachable,
            };
            Error::new(exit, error)
        })
}

/// What every change asks under the lock before its backup: the writable primary (exit 3
/// on a standby), reached through a session (exit 4 behind a transaction pooler).
pub(crate) async fn writable_session(gate: &Gate, lock: &MigrationLock) -> Result<(), Error> {
    primary_only(lock.connection()).await?;
    session_only(gate, lock).await
}
