//! The `schemagate` binary: parse the command line, start logging, run the app, and turn its
//! outcome into the documented exit code (DESIGN §7).

use std::process::ExitCode;

use clap::Parser;
use schemagate::cli::{Cli, Command};
use schemagate::{app, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log.log_format);
    let runtime = match runtime_for(&cli).enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(app::Exit::Internal.code());
        }
    };
    match runtime.block_on(app::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            tracing::error!(exit_code = failure.exit.code(), "{:#}", failure.error);
            ExitCode::from(failure.exit.code())
        }
    }
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
