//! [`Mysql`]: the engine of one `mysql://` or `mariadb://` URL, as the seam's [`Engine`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::connect::{ConnectError, connect};
use super::grammar::MYSQL_GRAMMAR;
use super::options::Options;
use super::pool::MysqlPool;
use super::session::MysqlSession;
use crate::engine::{self, Engine, Grammar, Pool, Scratch, Session};
use crate::gate::{Error, Exit};

/// Where the wing connects; every session keeps it, to open the sessions it needs beside.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) options: Options,
    pub(crate) connect_timeout: Duration,
}

impl Target {
    /// A session with retries until the connect timeout (exit 4; refused: exit 4 too, as
    /// PostgreSQL's wing treats an authentication or TLS failure).
    pub(crate) async fn connect(self: &Arc<Self>) -> Result<MysqlSession, Error> {
        self.connect_to(&self.options).await
    }

    /// A session on `options` (the live database's, or a scratch one's).
    pub(crate) async fn connect_to(
        self: &Arc<Self>,
        options: &Options,
    ) -> Result<MysqlSession, Error> {
        let conn = connect(options, self.connect_timeout)
            .await
            .map_err(connect_failed)?;
        Ok(MysqlSession::new(conn, options.clone()))
    }
}

/// A session that could not be opened (exit 4).
pub(crate) fn connect_failed(error: ConnectError) -> Error {
    Error::new(Exit::Unreachable, error)
}

/// The engine of one MariaDB/MySQL URL.
pub(crate) struct Mysql {
    target: Arc<Target>,
}

/// The engine of `url` (exit 2 when it does not parse; the message never holds the
/// password).
pub(crate) fn engine(url: &str, context: &engine::Context) -> Result<Arc<dyn Engine>, Error> {
    let options = Options::parse(url).map_err(|e| Error::new(Exit::Usage, e))?;
    Ok(Arc::new(Mysql {
        target: Arc::new(Target {
            options,
            connect_timeout: context.connect_timeout,
        }),
    }))
}

#[async_trait]
impl Engine for Mysql {
    fn name(&self) -> &'static str {
        "mysql"
    }

    fn backup_kind(&self) -> &'static str {
        "dump (mariadb-dump or mysqldump, the server's flavour)"
    }

    async fn connect(&self) -> Result<Box<dyn Session>, Error> {
        Ok(Box::new(self.target.connect().await?))
    }

    async fn scratch(&self) -> Result<Box<dyn Scratch>, Error> {
        Ok(Box::new(
            super::scratch::MysqlScratch::create(&self.target).await?,
        ))
    }

    fn pool(&self, _timeout: Duration, _size: usize) -> Result<Arc<dyn Pool>, Error> {
        Ok(Arc::new(MysqlPool::new(Arc::clone(&self.target))))
    }

    fn grammar(&self) -> &'static dyn Grammar {
        &MYSQL_GRAMMAR
    }
}
