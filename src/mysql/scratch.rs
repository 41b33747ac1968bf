//! Scratch databases on the same server, for `verify` and `baseline --verify`: created empty with a random name beside the live database, and
//! always dropped.

use std::sync::Arc;

use async_trait::async_trait;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;

use super::engine::Target;
use super::options::Options;
use super::session::MysqlSession;
use crate::engine::Session;
use crate::gate::{Error, Exit};

/// The server's longest database name.
const MAX_NAME: usize = 64;

/// A scratch database, to be removed with [`Scratch::remove`].
pub(crate) struct Scratch {
    /// Options naming it (the live database's, with its name).
    pub options: Options,
}

impl Scratch {
    /// Creates `<database>_sg_scratch_<random>` (the live name cut to fit) on `conn`'s server.
    pub(crate) async fn create(
        conn: &mut Conn,
        options: &Options,
    ) -> Result<Self, mysql_async::Error> {
        let mut random = [0u8; 4];
        getrandom::fill(&mut random).map_err(|e| {
            mysql_async::Error::Other(Box::new(std::io::Error::other(e.to_string())))
        })?;
        let suffix = format!("_sg_scratch_{}", hex::encode(random));
        let base: String = options
            .database
            .chars()
            .take(MAX_NAME - suffix.len())
            .collect();
        let mut name = format!("{base}{suffix}");
        while name.len() > MAX_NAME {
            name.remove(0);
        }
        conn.query_drop(format!("CREATE DATABASE `{}`", name.replace('`', "``")))
            .await?;
        Ok(Self {
            options: options.with_database(&name),
        })
    }

    /// Drops it; a failure is logged, never returned (there is nothing left to do about it).
    pub(crate) async fn remove(self, conn: &mut Conn) {
        let name = &self.options.database;
        if let Err(error) = conn
            .query_drop(format!(
                "DROP DATABASE IF EXISTS `{}`",
                name.replace('`', "``")
            ))
            .await
        {
            tracing::warn!(database = %name, error = %super::error::describe(&error), "cannot drop the scratch database");
        }
    }
}

/// A scratch database as the seam's [`crate::engine::Scratch`]: the session on it, and the
/// session on the live database that made it and drops it.
pub(crate) struct MysqlScratch {
    admin: Conn,
    scratch: Scratch,
    session: MysqlSession,
}

/// The server refused a scratch database.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot create a scratch database on {server}: {message}; the user needs CREATE and DROP on databases named like {database}_sg_scratch_*"
)]
struct NoScratch {
    server: String,
    database: String,
    message: String,
}

impl MysqlScratch {
    /// Creates one beside the target's database (exit 2 when the server refuses).
    pub(crate) async fn create(target: &Arc<Target>) -> Result<Self, Error> {
        let options = &target.options;
        let mut admin = super::connect::connect(options, target.connect_timeout)
            .await
            .map_err(super::engine::connect_failed)?;
        let scratch = Scratch::create(&mut admin, options).await.map_err(|e| {
            Error::new(
                Exit::Usage,
                NoScratch {
                    server: options.to_string(),
                    database: options.database.clone(),
                    message: super::error::describe(&e),
                },
            )
        })?;
        match target.connect_to(&scratch.options).await {
            Ok(session) => Ok(Self {
                admin,
                scratch,
                session,
            }),
            Err(error) => {
                scratch.remove(&mut admin).await;
                Err(error)
            }
        }
    }
}

#[async_trait]
impl crate::engine::Scratch for MysqlScratch {
    fn name(&self) -> &str {
        &self.scratch.options.database
    }

    fn session_mut(&mut self) -> &mut dyn Session {
        &mut self.session
    }

    async fn remove(self: Box<Self>) {
        let Self {
            mut admin,
            scratch,
            session,
        } = *self;
        let _ = session.conn.into_inner().disconnect().await;
        scratch.remove(&mut admin).await;
        let _ = admin.disconnect().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mysql::testing::TestDatabase;

    #[tokio::test]
    async fn a_scratch_database_is_made_beside_the_live_one_and_dropped() {
        let db = TestDatabase::create().await;
        let mut conn = db.conn().await;
        let scratch = Scratch::create(&mut conn, &db.options).await.unwrap();
        assert!(scratch.options.database.starts_with(&db.options.database));
        assert!(scratch.options.database.len() <= MAX_NAME);
        let name = scratch.options.database.clone();
        let exists = |n: String| async move {
            let mut c = TestDatabase::create_conn_to_server().await;
            let found: Option<i64> = c
                .exec_first(
                    "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
                    (n,),
                )
                .await
                .unwrap();
            found == Some(1)
        };
        assert!(exists(name.clone()).await);
        scratch.remove(&mut conn).await;
        assert!(!exists(name).await);
    }
}
