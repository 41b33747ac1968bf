//! The refresh's pool ([`crate::postgres::db::pool`]) as the seam's [`Pool`]: the version, the fleet
//! and the audit totals pipelined on one pooled connection.

use async_trait::async_trait;
use deadpool_postgres::{Object, Pool};

use std::collections::BTreeSet;

use super::audit;
use super::drift;
use super::fleet;
use super::schema;
use crate::backup::Origin;
use crate::drift::Recorded;
use crate::engine::{self, FleetAndAudit};
use crate::fleet::Instance;
use crate::history;

/// A deadpool of tokio-postgres connections made like the gate's.
pub(crate) struct PgPool(pub(crate) Pool);

#[async_trait]
impl engine::Pool for PgPool {
    async fn read(&self, instance: Option<&Instance>) -> Result<(i64, FleetAndAudit), String> {
        read(&self.0, instance).await
    }

    async fn leave(&self, id: &str) -> Result<(), String> {
        let client = self.0.get().await.map_err(describe_pool_error)?;
        fleet::leave(&client, id).await.map_err(|e| e.to_string())
    }

    async fn origin(&self) -> Result<Origin, String> {
        let client = self.0.get().await.map_err(describe_pool_error)?;
        super::backup::tools::server(&client)
            .await
            .map(|server| server.origin())
            .map_err(|e| e.to_string())
    }

    async fn schema(&self) -> Result<(BTreeSet<String>, Option<Recorded>), String> {
        let client = self.0.get().await.map_err(describe_pool_error)?;
        let (live, recorded) = tokio::join!(schema::describe(&client), drift::latest(&client));
        let describe = |e: tokio_postgres::Error| crate::postgres::db::describe(&e);
        Ok((live.map_err(describe)?, recorded.map_err(describe)?))
    }
}

/// Reads the current version on a pooled connection, and pipelined with it on the same
/// connection the fleet (announcing `instance` first) and the audit totals. A connection
/// whose version query failed is taken out of the pool rather than returned to it, so the
/// next refresh connects afresh.
async fn read(pool: &Pool, instance: Option<&Instance>) -> Result<(i64, FleetAndAudit), String> {
    let client = pool.get().await.map_err(describe_pool_error)?;
    let fleet = async {
        let announced = match instance {
            Some(instance) => fleet::announce(&client, instance).await,
            None => Ok(()),
        };
        (announced, fleet::live(&client).await)
    };
    let (current, (announced, live), totals) = tokio::join!(
        history::current_version(&**client),
        fleet,
        audit::totals(&client)
    );
    match current {
        Ok(version) => Ok((
            version,
            FleetAndAudit {
                announced: announced.map_err(|e| e.to_string()),
                live: live.map_err(|e| e.to_string()),
                totals: totals.map_err(|e| e.to_string()),
            },
        )),
        Err(error) => {
            drop(Object::take(client));
            Err(error.to_string())
        }
    }
}

/// A pool failure in the words of the server when it has some.
fn describe_pool_error(error: deadpool_postgres::PoolError) -> String {
    match error {
        deadpool_postgres::PoolError::Backend(e) => crate::postgres::db::describe(&e),
        other => other.to_string(),
    }
}
