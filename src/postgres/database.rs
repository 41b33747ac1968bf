//! [`Postgres`]: the engine of one PostgreSQL URL.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::grammar::PG_GRAMMAR;
use super::session::PgSession;
use crate::engine::{self, Engine, Grammar, Pool, Scratch, Session};
use crate::gate::{Error, Exit};
use crate::postgres::connection::Connection;
use crate::postgres::db::{self, DbError};

/// Where and how the wing connects: every session keeps it, to reconnect, watch or cancel.
#[derive(Debug)]
pub(crate) struct Target {
    /// The parsed URL.
    pub(crate) connection: Connection,
    /// Every connection's `application_name`.
    pub(crate) application_name: String,
    /// How long connecting retries.
    pub(crate) connect_timeout: Duration,
}

impl Target {
    /// A connection with retry until the connect timeout (exit 4; a bad URL exit 2).
    pub(crate) async fn connect(self: &Arc<Self>) -> Result<PgSession, Error> {
        let client = db::connect(
            &self.connection,
            &self.application_name,
            self.connect_timeout,
        )
        .await
        .map_err(connect_failed)?;
        Ok(PgSession::new(client, Arc::clone(self)))
    }
}

/// A connection that could not be made: exit 4.
pub(crate) fn connect_failed(error: DbError) -> Error {
    Error::new(Exit::Unreachable, error)
}

/// The engine of one PostgreSQL URL.
pub(crate) struct Postgres {
    target: Arc<Target>,
}

/// The engine of `url` (exit 2 when it does not parse as libpq would).
pub(crate) fn engine(url: &str, context: &engine::Context) -> Result<Arc<dyn Engine>, Error> {
    let connection = Connection::parse(url).map_err(|e| Error::new(Exit::Usage, e))?;
    Ok(Arc::new(Postgres {
        target: Arc::new(Target {
            connection,
            application_name: context.application_name.clone(),
            connect_timeout: context.connect_timeout,
        }),
    }))
}

#[async_trait]
impl Engine for Postgres {
    fn name(&self) -> &'static str {
        "postgresql"
    }

    fn backup_kind(&self) -> &'static str {
        "pg_dump"
    }

    async fn connect(&self) -> Result<Box<dyn Session>, Error> {
        Ok(Box::new(self.target.connect().await?))
    }

    async fn scratch(&self) -> Result<Box<dyn Scratch>, Error> {
        Ok(Box::new(
            super::scratch::PgScratch::create(&self.target).await?,
        ))
    }

    fn pool(&self, timeout: Duration, size: usize) -> Result<Arc<dyn Pool>, Error> {
        let target = &self.target;
        db::pool(&target.connection, &target.application_name, timeout, size)
            .map_err(|e| Error::new(Exit::Internal, e))
    }

    fn grammar(&self) -> &'static dyn Grammar {
        &PG_GRAMMAR
    }
}
