//! A small warp service that carries its own migrations and compat window in its binary,
//! gates itself at startup, and serves its API beside the gate's `/health` and `/metrics`
//! (DESIGN §13; `docs/embedding.md` walks through it).
//!
//! The URL's scheme picks the engine, for the gate and for the app's own connection alike:
//! the same binary runs on PostgreSQL or on a SQLite file (`V1__create_notes.sqlite.sql`
//! replaces `V1__create_notes.sql` there).
//!
//! ```text
//! DATABASE_URL=postgres://app@localhost/app LISTEN=127.0.0.1:3000 cargo run --example embedded
//! DATABASE_URL=sqlite:notes.db LISTEN=127.0.0.1:3000 cargo run --example embedded
//! curl localhost:3000/notes     # the app's route
//! curl localhost:3000/health    # the gate's
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prometheus::{IntCounter, Registry};
use schemagate::stop::Stop;
use schemagate::{Compat, Gate, Release};
use warp::Filter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let url = std::env::var("DATABASE_URL")?;
    let listen: SocketAddr = std::env::var("LISTEN")
        .unwrap_or_else(|_| "127.0.0.1:3000".to_owned())
        .parse()?;

    // The app's own metrics and the gate's, in one registry and on one /metrics.
    let registry = Registry::new();
    let requests = IntCounter::new("notes_requests_total", "Requests to /notes.")?;
    registry.register(Box::new(requests.clone()))?;

    let release = Release::new(
        schemagate::embed_catalogue!("examples/embedded/migrations")?,
        Compat::from_toml_str(include_str!("compat.toml"))?,
    );
    let stop = Stop::on_signals();
    let gate = Gate::builder(release)
        .database_url(url.clone())
        .backup_dir(std::env::var("BACKUP_DIR").unwrap_or_else(|_| "backups".to_owned()))
        .registry(registry)
        .stop(stop.clone())
        .build()?;
    // Lock, backup, migrate, verdict: a refusal ends the process with its exit code.
    let report = match gate.run().await {
        Ok(report) => report,
        Err(error) => {
            eprintln!("{}", schemagate::gate::chain(&error));
            std::process::exit(error.exit().code().into());
        }
    };
    tracing::info!(schema = report.plan.target, "gated");

    let database = Notes::connect(&url).await?;
    let notes = warp::path("notes")
        .and(warp::path::end())
        .and(warp::get())
        .and_then(move || {
            requests.inc();
            let database = database.clone();
            async move { Ok::<_, Infallible>(list_notes(&database).await) }
        });

    let refresh_stop = stop.clone();
    tokio::spawn(gate.refresh(async move {
        refresh_stop.wait().await;
    })?);
    let (address, server) = warp::serve(notes.or(gate.routes())).try_bind_with_graceful_shutdown(
        listen,
        async move {
            stop.wait().await;
        },
    )?;
    println!("listening on {address}");
    server.await;
    Ok(())
}

/// The app's own connection to the database the gate gated, of the engine its URL names.
#[derive(Clone)]
enum Notes {
    Postgres(Arc<tokio_postgres::Client>),
    /// rusqlite blocks: its calls run on tokio's blocking pool, one at a time.
    Sqlite(Arc<Mutex<rusqlite::Connection>>),
}

/// The app's one query, the same on both engines.
const QUERY: &str = "SELECT body FROM notes ORDER BY id";

impl Notes {
    async fn connect(url: &str) -> Result<Self, Box<dyn std::error::Error>> {
        if let Some(path) = sqlite_path(url) {
            let connection = rusqlite::Connection::open(path.as_ref())?;
            // A gate's step (another instance's) holds SQLite's write lock for a moment.
            connection.busy_timeout(Duration::from_secs(5))?;
            return Ok(Self::Sqlite(Arc::new(Mutex::new(connection))));
        }
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        Ok(Self::Postgres(Arc::new(client)))
    }

    async fn bodies(&self) -> Result<Vec<String>, String> {
        match self {
            Self::Postgres(client) => client
                .query(QUERY, &[])
                .await
                .map(|rows| rows.iter().map(|row| row.get(0)).collect())
                .map_err(|e| e.to_string()),
            Self::Sqlite(connection) => {
                let connection = Arc::clone(connection);
                tokio::task::spawn_blocking(move || {
                    let connection = connection.lock().unwrap_or_else(PoisonError::into_inner);
                    let mut statement = connection.prepare(QUERY)?;
                    let rows = statement.query_map([], |row| row.get(0))?;
                    rows.collect::<rusqlite::Result<Vec<String>>>()
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())
            }
        }
    }
}

/// The file of a `sqlite:PATH` or `sqlite://PATH` URL, percent-decoded, without its
/// `?mode=`; `None` for any other URL.
fn sqlite_path(url: &str) -> Option<std::borrow::Cow<'_, str>> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split_once('?').map_or(rest, |(path, _)| path);
    Some(percent_encoding::percent_decode_str(path).decode_utf8_lossy())
}

/// The notes as JSON, or a 500 naming the database error.
async fn list_notes(database: &Notes) -> warp::reply::Response {
    use warp::Reply;
    match database.bodies().await {
        Ok(bodies) => warp::reply::json(&bodies).into_response(),
        Err(error) => {
            warp::reply::with_status(error, warp::http::StatusCode::INTERNAL_SERVER_ERROR)
                .into_response()
        }
    }
}
