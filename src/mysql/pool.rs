//! The background refresh's reads ([`crate::engine::Pool`]) on one connection of its own,
//! opened when first needed and opened again after a failure: the refresh asks a few
//! questions every few seconds, which one session answers in turn.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use mysql_async::Conn;
use tokio::sync::Mutex;

use super::engine::Target;
use crate::backup::Origin;
use crate::drift::Recorded;
use crate::engine::{self, FleetAndAudit};
use crate::fleet::Instance;

pub(crate) struct MysqlPool {
    target: Arc<Target>,
    conn: Mutex<Option<Conn>>,
}

impl MysqlPool {
    pub(crate) fn new(target: Arc<Target>) -> Self {
        Self {
            target,
            conn: Mutex::new(None),
        }
    }

    /// Runs `read` on the connection (opened when there is none); a failure drops it.
    async fn with<T>(
        &self,
        read: impl AsyncFnOnce(&mut Conn) -> Result<T, String>,
    ) -> Result<T, String> {
        let mut slot = self.conn.lock().await;
        if slot.is_none() {
            let options = &self.target.options;
            let conn = super::connect::connect(options, self.target.connect_timeout)
                .await
                .map_err(|e| e.to_string())?;
            *slot = Some(conn);
        }
        let conn = slot.as_mut().expect("opened above");
        let result = read(conn).await;
        if result.is_err() {
            *slot = None;
        }
        result
    }
}

#[async_trait]
impl engine::Pool for MysqlPool {
    async fn read(&self, instance: Option<&Instance>) -> Result<(i64, FleetAndAudit), String> {
        self.with(async |conn| {
            let applied = super::history::read(conn)
                .await
                .map_err(|e| e.to_string())?;
            let announced = match instance {
                Some(instance) => super::audit::announce(conn, instance)
                    .await
                    .map_err(|e| e.to_string()),
                None => Ok(()),
            };
            let live = super::audit::live(conn).await.map_err(|e| e.to_string());
            let totals = super::audit::totals(conn).await.map_err(|e| e.to_string());
            Ok((
                applied.last().map_or(0, |a| a.version),
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
        self.with(async |conn| {
            super::audit::leave(conn, id)
                .await
                .map_err(|e| e.to_string())
        })
        .await
    }

    async fn schema(&self) -> Result<(BTreeSet<String>, Option<Recorded>), String> {
        self.with(async |conn| {
            let live = super::schema::describe(conn)
                .await
                .map_err(|e| super::error::describe(&e))?;
            let recorded = super::drift::latest(conn)
                .await
                .map_err(|e| e.to_string())?;
            Ok((live, recorded))
        })
        .await
    }

    async fn origin(&self) -> Result<Origin, String> {
        let database = self.target.options.database.clone();
        self.with(async |conn| {
            let (_, uuid) = super::dump::server(conn).await.map_err(|e| e.to_string())?;
            Ok(Origin {
                database,
                system_identifier: uuid,
            })
        })
        .await
    }
}
