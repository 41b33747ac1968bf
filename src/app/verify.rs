//! `schemagate verify [--scratch-url URL]`: the release pipeline's proof that every down
//! inverts its up ([`crate::verify`]), on a scratch database of the given server (or of the
//! `--database-url` server), never the target database. Takes no lock and touches nothing
//! but the scratch database, which is dropped on every path, a stop included.

use super::*;
use crate::cli::VerifyArgs;
use crate::connection::Connection;
use crate::verify::VerifyError;

/// Runs `verify` (exit 3 when a down does not invert its up, 6 when a file fails).
pub(super) async fn verify(
    release: &Release,
    gate_args: &GateArgs,
    args: &VerifyArgs,
) -> Result<(), Failure> {
    let parsed;
    let server = match &args.scratch_url {
        Some(url) => {
            parsed = Connection::parse(url.expose_secret()).exit(Exit::Usage)?;
            &parsed
        }
        None => release.url()?,
    };
    let admin = tokio::select! {
        connected = db::connect(server, &release.application_name, gate_args.connect_timeout) => connected.exit(Exit::Unreachable)?,
        signal = release.stop.wait() => return Err(stopped(signal, "while connecting to the scratch server", None)),
    };
    let name = crate::scratch::create(&admin).await.map_err(|e| {
            Failure::new(
                Exit::Usage,
                anyhow::anyhow!(
                    "cannot create a scratch database on {server}: {}; the user needs CREATEDB (or give --scratch-url of a server where it has it)",
                    db::describe(&e)
                ),
            )
        })?;
    let work = async {
        let mut scratch = db::connect_to_database(server, &release.application_name, &name)
            .await
            .exit(Exit::Unreachable)?;
        crate::verify::verify(&mut scratch, &release.catalogue, &mut |line| {
            output::verify_line(&line)
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
            Failure::new(exit, error)
        })
    };
    let result = tokio::select! {
        verified = work => verified,
        signal = release.stop.wait() => Err(stopped(signal, "while verifying", None)),
    };
    crate::scratch::remove(&admin, &name).await;
    result?;
    output::verify_line(&format!(
        "verified: every down of {} inverts its up",
        release.catalogue.origin
    ));
    Ok(())
}
