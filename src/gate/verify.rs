//! `schemagate verify [--scratch-url URL]`: the release pipeline's proof that every down
//! inverts its up ([`crate::verify`]), on a scratch database of the given server (or of the
//! `--database-url` server), never the target database. Takes no lock and touches nothing
//! but the scratch database, which is dropped on every path, a stop included.

use secrecy::{ExposeSecret, SecretString};

use super::builder::{Gate, stopped};
use super::error::{Error, Exit, ExitWith};
use super::event::Event;
use crate::connection::Connection;
use crate::db;
use crate::verify::VerifyError;

impl Gate {
    /// `verify`: every down proven to invert its up on a scratch database of
    /// `scratch_url`'s server (default: the database's), printing each migration (exit 3
    /// when a down does not invert its up, 6 when a file fails).
    pub async fn verify(&self, scratch_url: Option<&SecretString>) -> Result<(), Error> {
        verify(self, scratch_url).await
    }
}

async fn verify(gate: &Gate, scratch_url: Option<&SecretString>) -> Result<(), Error> {
    let parsed;
    let server = match scratch_url {
        Some(url) => {
            parsed = Connection::parse(url.expose_secret()).exit(Exit::Usage)?;
            &parsed
        }
        None => gate.url()?,
    };
    let admin = tokio::select! {
        connected = db::connect(server, &gate.application_name, gate.settings.connect_timeout) => connected.exit(Exit::Unreachable)?,
        signal = gate.stop.wait() => return Err(stopped(signal, "while connecting to the scratch server", None)),
    };
    let name = crate::scratch::create(&admin).await.map_err(|source| {
        Error::new(
            Exit::Usage,
            NoScratch {
                server: server.to_string(),
                source,
            },
        )
    })?;
    let work = async {
        let mut scratch = db::connect_to_database(server, &gate.application_name, &name)
            .await
            .exit(Exit::Unreachable)?;
        crate::verify::verify(&mut scratch, &gate.release.catalogue, &mut |line| {
            gate.tell(Event::Verified(&line))
        })
        .await
        .map_err(|error| {
            let exit = match error {
                VerifyError::NotInverted { .. } | VerifyError::NotRepeatable { .. } => {
                    Exit::Refused
                }
                VerifyError::Step(_) => Exit::StepFailed,
                _ => Exit::Internal,
            };
            Error::new(exit, error)
        })
    };
    let result = tokio::select! {
        verified = work => verified,
        signal = gate.stop.wait() => Err(stopped(signal, "while verifying", None)),
    };
    crate::scratch::remove(&admin, &name).await;
    result?;
    gate.tell(Event::Verified(&format!(
        "verified: every down of {} inverts its up",
        gate.release.catalogue.origin
    )));
    Ok(())
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
