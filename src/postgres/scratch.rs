//! Scratch databases on a PostgreSQL server: `CREATE DATABASE` with a random name (the
//! user needs `CREATEDB`), a session on it, and `DROP DATABASE … WITH (FORCE)` on every path.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio_postgres::Client;

use super::database::{Target, connect_failed};
use super::session::PgSession;
use crate::engine::{Scratch, Session};
use crate::gate::{Error, Exit};
use crate::postgres::db;

/// A scratch database, and the session on the server that made it and drops it.
pub(crate) struct PgScratch {
    admin: Client,
    name: String,
    session: PgSession,
}

impl PgScratch {
    /// Creates one on `target`'s server (exit 4 when it cannot be reached, 2 when the user
    /// may not create databases there).
    pub(crate) async fn create(target: &Arc<Target>) -> Result<Self, Error> {
        let admin = target.connect().await?.client;
        let name = create(&admin).await.map_err(|source| {
            Error::new(
                Exit::Usage,
                NoScratch {
                    server: target.connection.to_string(),
                    source,
                },
            )
        })?;
        let connected =
            db::connect_to_database(&target.connection, &target.application_name, &name).await;
        let client = match connected {
            Ok(client) => client,
            Err(error) => {
                remove(&admin, &name).await;
                return Err(connect_failed(error));
            }
        };
        let mut session = PgSession::new(client, Arc::clone(target));
        session.scratch = true;
        Ok(Self {
            session,
            admin,
            name,
        })
    }
}

#[async_trait]
impl Scratch for PgScratch {
    fn name(&self) -> &str {
        &self.name
    }

    fn session_mut(&mut self) -> &mut dyn Session {
        &mut self.session
    }

    async fn remove(self: Box<Self>) {
        let Self {
            admin,
            name,
            session,
        } = *self;
        drop(session);
        ended(&admin, &name).await;
        remove(&admin, &name).await;
    }
}

/// How long [`ended`] waits for the scratch session to be gone.
const SESSION_END: Duration = Duration::from_secs(1);

/// Waits, up to [`SESSION_END`], until the server has no session on the scratch database
/// `name`, whose client was just dropped: the session takes a few milliseconds to end
/// (it drops the temporary objects of `verify`'s look), and a `DROP DATABASE … WITH
/// (FORCE)` that still finds it signals it and sleeps 100 ms before it looks again, which
/// was a twentieth of `verify`'s time on a catalogue of a few hundred migrations. A
/// failure to ask is left to the drop itself.
async fn ended(admin: &Client, name: &str) {
    let deadline = Instant::now() + SESSION_END;
    while Instant::now() < deadline {
        let open = admin
            .query_one(
                "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE datname = $1)",
                &[&name],
            )
            .await;
        match open {
            Ok(row) if row.get::<_, bool>(0) => tokio::time::sleep(Duration::from_millis(1)).await,
            _ => return,
        }
    }
}

/// The scratch database cannot be created.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot create a scratch database on {server}: {}; the user needs CREATEDB (or give --scratch-url of a server where it has it)",
    db::describe(.source)
)]
struct NoScratch {
    server: String,
    #[source]
    source: tokio_postgres::Error,
}

/// Creates a scratch database through `admin` (a session on the server; its user needs
/// `CREATEDB`) and returns its name. Its commits do not wait for the disk
/// (`synchronous_commit`): it is dropped when the work is done, and waiting is most of what
/// `verify`'s thousands of steps would do.
async fn create(admin: &Client) -> Result<String, tokio_postgres::Error> {
    let name = name();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await?;
    if let Err(error) = admin
        .batch_execute(&format!(
            "ALTER DATABASE {name} SET synchronous_commit = off"
        ))
        .await
    {
        remove(admin, &name).await;
        return Err(error);
    }
    Ok(name)
}

/// Drops the scratch database `name`, with its sessions; a failure is logged with the advice
/// to drop it by hand, as the work it served is done either way.
async fn remove(admin: &Client, name: &str) {
    if let Err(error) = admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
    {
        tracing::warn!(database = %name, error = %crate::postgres::db::describe(&error), "cannot drop the scratch database; drop it by hand");
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
