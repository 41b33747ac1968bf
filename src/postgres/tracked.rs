//! The user schemas followed step by step for `verify` ([`crate::schema::Tracked`]): only
//! what a step touched is described again, so a look costs what the step did, not what the
//! schema holds.
//!
//! - `noted`: event triggers on the scratch database note each command's objects as it
//!   runs; a look describes those and what depends on them, looked up by oid. Needs a role
//!   that may create event triggers (a superuser), as the scratch database's maker usually is.
//! - `scanned`: otherwise the catalogues' rows written since the last look (`xmin`) tell
//!   what changed; finding them scans the catalogues, so a look grows with the schema.

mod noted;
mod scanned;

use tokio_postgres::Client;

use crate::schema::{Earlier, Tracked};

/// The user schemas described in full, to be followed by event triggers where the role may
/// create them, by the catalogues' transaction ids otherwise.
pub(super) async fn track(client: &Client) -> Result<Tracked, tokio_postgres::Error> {
    match noted::track(client).await? {
        Some(tracked) => Ok(tracked),
        None => scanned::track(client).await,
    }
}

/// Brings `tracked` to the schema now: the objects touched since the last look described
/// again, those gone removed; returns their earlier lines.
pub(super) async fn changed(
    client: &Client,
    tracked: &mut Tracked,
) -> Result<Earlier, tokio_postgres::Error> {
    if noted::follows(tracked) {
        noted::changed(client, tracked).await
    } else {
        scanned::changed(client, tracked).await
    }
}
