//! `schemagate verify [--scratch-url URL]`: the release pipeline's proof that every down
//! inverts its up ([`crate::verify`]), on a scratch database of the given server (or of the
//! `--database-url` server), never the target database. Takes no lock and touches nothing
//! but the scratch database, which is dropped on every path, a stop included.

use secrecy::{ExposeSecret, SecretString};

use super::builder::{Gate, stopped};
use super::error::{Error, Exit};
use super::event::Event;
use crate::engine;
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
    let other;
    let server = match scratch_url {
        Some(url) => {
            other = engine::open(url.expose_secret(), &gate.context())?;
            other.as_ref()
        }
        None => gate.engine()?,
    };
    let mut scratch = tokio::select! {
        made = server.scratch() => made?,
        signal = gate.stop.wait() => return Err(stopped(signal, "while connecting to the scratch server", None)),
    };
    let work = async {
        crate::verify::verify(
            scratch.session_mut(),
            &gate.release.catalogue,
            &mut |line| gate.tell(Event::Verified(&line)),
        )
        .await
        .map_err(failed)
    };
    let result = tokio::select! {
        verified = work => verified,
        signal = gate.stop.wait() => Err(stopped(signal, "while verifying", None)),
    };
    scratch.remove().await;
    result?;
    gate.tell(Event::Verified(&format!(
        "verified: every down of {} inverts its up",
        gate.release.catalogue.origin
    )));
    Ok(())
}

/// Exit 3 when a down does not invert its up, 6 when a file fails; the engine's own error
/// otherwise.
fn failed(error: VerifyError) -> Error {
    let exit = match error {
        VerifyError::Engine(error) => return error,
        VerifyError::NotInverted { .. } | VerifyError::NotRepeatable { .. } => Exit::Refused,
        VerifyError::Step(_) => Exit::StepFailed,
    };
    Error::new(exit, error)
}
