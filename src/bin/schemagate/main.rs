//! The `schemagate` binary: parse the command line, start logging, run the command through
//! the library, and turn its outcome into the documented exit code (DESIGN §7).
//!
//! - `cli`: every command, flag and environment variable.
//! - `app`: flags into the library's settings and gate; the one dispatch.
//! - `lint`: `schemagate lint`, which needs no database.
//! - `new`: `schemagate new`, the next migration pair, without a database.
//! - `output`: everything printed on stdout (the library prints nothing).
//! - `telemetry`: logging to stderr.

mod app;
mod cli;
mod lint;
mod new;
mod output;
mod telemetry;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use cli::{Cli, Command};
use schemagate::Exit;

/// This binary's own release: the crate's `migrations/` and `compat.toml`.
const EMBEDDED: app::Embedded = app::Embedded {
    catalogue: || schemagate::embed_catalogue!("migrations"),
    compat: include_str!("../../../compat.toml"),
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log.log_format);
    let runtime = match runtime_for(&cli).enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(Exit::Internal.code());
        }
    };
    let outcome = runtime.block_on(app::run(cli, &EMBEDDED));
    end_sessions(&runtime);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let code = error.exit().code();
            tracing::error!(exit_code = code, "{}", schemagate::gate::chain(&error));
            ExitCode::from(code)
        }
    }
}

/// Lets the database sessions the command dropped end as psql's do: each sends
/// PostgreSQL's Terminate message and closes its socket (`schemagate::gate::sessions_closed`),
/// so the server does not log every run as a lost client.
fn end_sessions(runtime: &tokio::runtime::Runtime) {
    runtime.block_on(schemagate::gate::sessions_closed(Duration::from_millis(
        500,
    )));
}

/// One thread for the one-shot commands: the gate talks to one connection, and keeping the
/// connection task on the same thread saves a cross-thread wake-up per round trip. `serve`
/// (the default) answers HTTP in parallel, so it gets a worker per core.
fn runtime_for(cli: &Cli) -> tokio::runtime::Builder {
    match cli.command {
        None | Some(Command::Serve(_)) if cli.gate.rollback_to.is_none() => {
            tokio::runtime::Builder::new_multi_thread()
        }
        _ => tokio::runtime::Builder::new_current_thread(),
    }
}
