//! [`SqlitePool`]: the background refresh's reads (DESIGN §8, §14) on a connection of
//! their own, opened at the first refresh and kept: a SQLite file has no server to
//! spread connections over, so one serves.

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::OnceCell;

use super::connect::Database;
use super::url::Location;
use super::{audit, backup, drift, fleet, history, schema};
use crate::backup::Origin;
use crate::drift::Recorded;
use crate::engine::{FleetAndAudit, Pool};
use crate::fleet::Instance;

/// The refresh's connection, opened on first use.
pub(crate) struct SqlitePool {
    location: Location,
    busy: Duration,
    database: OnceCell<Database>,
}

impl SqlitePool {
    /// A pool for `location`; opens nothing yet.
    pub(crate) fn new(location: Location, busy: Duration) -> Self {
        Self {
            location,
            busy,
            database: OnceCell::new(),
        }
    }

    async fn database(&self) -> Result<&Database, String> {
        self.database
            .get_or_try_init(|| Database::open(self.location.clone(), self.busy))
            .await
            .map_err(|e| e.to_string())
    }
}

#[async_trait]
impl Pool for SqlitePool {
    async fn read(&self, instance: Option<&Instance>) -> Result<(i64, FleetAndAudit), String> {
        let instance = instance.cloned();
        let database = self.database().await?;
        database
            .call(move |c| {
                let version = history::current_version(c).map_err(|e| e.to_string())?;
                let announced = match &instance {
                    Some(instance) => fleet::announce(c, instance).map_err(|e| e.to_string()),
                    None => Ok(()),
                };
                let live = fleet::live(c).map_err(|e| e.to_string());
                let totals = audit::totals(c).map_err(|e| e.to_string());
                Ok((
                    version,
                    FleetAndAudit {
                        announced,
                        live,
                        totals,
                    },
                ))
            })
            .await
    }

    async fn leave(&self, id: &str) -> Result<(), String> {
        let id = id.to_owned();
        let database = self.database().await?;
        database
            .call(move |c| fleet::leave(c, &id).map_err(|e| e.to_string()))
            .await
    }

    async fn origin(&self) -> Result<Origin, String> {
        Ok(backup::origin(&self.location.path))
    }

    async fn schema(&self) -> Result<(BTreeSet<String>, Option<Recorded>), String> {
        let database = self.database().await?;
        database
            .call(|c| {
                let live = schema::describe(c).map_err(|e| e.to_string())?;
                let recorded = drift::latest(c).map_err(|e| e.to_string())?;
                Ok((live, recorded))
            })
            .await
    }
}
