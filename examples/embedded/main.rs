//! A small warp service that carries its own migrations and compat window in its binary,
//! gates itself at startup, and serves its API beside the gate's `/health` and `/metrics`
//! (DESIGN §13; `docs/embedding.md` walks through it).
//!
//! ```text
//! DATABASE_URL=postgres://app@localhost/app LISTEN=127.0.0.1:3000 cargo run --example embedded
//! curl localhost:3000/notes     # the app's route
//! curl localhost:3000/health    # the gate's
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

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
            eprintln!("{}", schemagate::gate::error::chain(&error));
            std::process::exit(error.exit().code().into());
        }
    };
    tracing::info!(schema = report.plan.target, "gated");

    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let client = Arc::new(client);
    let notes = warp::path("notes")
        .and(warp::path::end())
        .and(warp::get())
        .and_then(move || {
            requests.inc();
            let client = Arc::clone(&client);
            async move { Ok::<_, Infallible>(list_notes(&client).await) }
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

/// The notes as JSON, or a 500 naming the database error.
async fn list_notes(client: &tokio_postgres::Client) -> warp::reply::Response {
    use warp::Reply;
    match client
        .query("SELECT body FROM notes ORDER BY id", &[])
        .await
    {
        Ok(rows) => {
            let bodies: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
            warp::reply::json(&bodies).into_response()
        }
        Err(error) => warp::reply::with_status(
            error.to_string(),
            warp::http::StatusCode::INTERNAL_SERVER_ERROR,
        )
        .into_response(),
    }
}
