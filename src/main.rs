//! The `schemagate` binary: parse the command line, start logging, run the app, and turn its
//! outcome into the documented exit code (DESIGN §7).

use std::process::ExitCode;

use clap::Parser;
use schemagate::{app, cli::Cli, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
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
