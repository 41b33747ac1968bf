//! The command line as a client of the library (DESIGN §13): flags and environment become
//! [`Settings`] and a [`Gate`], one `match` sends each command to it, and what it returns
//! is printed through [`crate::output`], as are the events the commands tell.

use std::path::Path;

use schemagate::backup::RestoreOptions;
use schemagate::catalogue::{self, Catalogue};
use schemagate::gate::{
    Application, BackupSettings, EarlySession, Error, Exit, FleetSettings, ServiceSettings,
    Settings,
};
use schemagate::server::ConnectionLimits;
use schemagate::stop::Stop;
use schemagate::{Compat, Gate, Release};
use secrecy::SecretString;

use crate::cli::{Cli, Command, GateArgs, LintMode, ServeArgs};
use crate::{lint, new, output};

/// The release this binary was built with: `migrations/` and `compat.toml` of its crate.
pub struct Embedded {
    /// The embedded catalogue, read at startup (a bad file is exit 2).
    pub catalogue: fn() -> Result<Catalogue, catalogue::CatalogueError>,
    /// The embedded compat.toml.
    pub compat: &'static str,
}

/// Runs a command to completion: the one dispatch of the command line.
pub async fn run(mut cli: Cli, embedded: &Embedded) -> Result<(), Error> {
    let serve_named = matches!(cli.command, Some(Command::Serve(_)));
    let command = cli.take_command();
    let rollback_to = cli.gate.rollback_to.clone();
    if rollback_to.is_some() {
        rollback_goes_with(&command, serve_named)?;
    }
    let stop = Stop::on_signals();
    let url = cli
        .gate
        .database_url
        .clone()
        .or_else(|| std::env::var("DATABASE_URL").ok().map(Into::into));
    let gate_of = |(release, early): (Release, Option<EarlySession>), serve: Option<&ServeArgs>| {
        let dry_run = cli.gate.dry_run || matches!(command, Command::Plan);
        Gate::builder(release)
            .database_secret(url.clone())
            .early_session(early)
            .settings(settings(&cli, serve, dry_run))
            .stop(stop.clone())
            .on_event(output::event)
            .build()
    };
    let gate = |serve: Option<&ServeArgs>| gate_of((release(&cli.gate, embedded)?, None), serve);
    // The commands whose first step is a session: it opens while the migrations are read.
    let connecting = || release_connecting(&cli.gate, embedded, url.clone());
    match &command {
        Command::Healthcheck(args) => schemagate::server::healthcheck::check(&args.url)
            .await
            .map_err(|e| Error::new(Exit::Internal, e)),
        Command::Lint(args) => lint::command(
            || compat(&cli.gate, embedded),
            cli.gate.compat.is_some(),
            || catalogue(&cli.gate, embedded),
            args,
        ),
        Command::New(args) => new::command(
            args.dir
                .as_deref()
                .or(cli.gate.migrations_dir.as_deref())
                .unwrap_or(Path::new("migrations")),
            &args.name,
        ),
        Command::Version => {
            let release = release(&cli.gate, embedded)?;
            output::version(&release.compat, &release.catalogue);
            Ok(())
        }
        Command::Serve(_) | Command::Migrate | Command::Plan if rollback_to.is_some() => {
            gate_of(connecting().await?, None)?
                .rollback_to(rollback_to.as_deref().unwrap_or_default())
                .await
        }
        Command::Serve(args) if !cli.gate.dry_run => {
            serve_until_stopped(gate_of(connecting().await?, Some(args))?, stop).await
        }
        Command::Serve(_) | Command::Migrate | Command::Plan => {
            let gate = gate_of(connecting().await?, None)?;
            let report = gate.run().await?;
            output::gate_done(&report, &gate.release().compat);
            Ok(())
        }
        Command::Check => {
            let gate = gate_of(connecting().await?, None)?;
            let current = gate.check().await?;
            output::check_ok(current, &gate.release().compat);
            output::drift_line(&gate.diff().await?);
            Ok(())
        }
        Command::Status(args) => {
            let gate = gate_of(connecting().await?, None)?;
            let status = gate.status().await?;
            let release = gate.release();
            output::status(&release.catalogue, &status, &release.compat, args.json)
                .map_err(|e| Error::new(Exit::Internal, e))
        }
        Command::Diff(args) => {
            let diff = gate_of(connecting().await?, None)?.diff().await?;
            output::diff(&diff, args.json).map_err(|e| Error::new(Exit::Internal, e))?;
            if diff.is_empty() {
                Ok(())
            } else {
                Err(Error::new(Exit::Refused, Drifted))
            }
        }
        Command::Backup => gate(None)?.backup_now().await,
        Command::Backups(args) => {
            let backups = gate(None)?.list_backups(args.all).await?;
            output::backups(&backups, args.json).map_err(|e| Error::new(Exit::Internal, e))
        }
        Command::Restore(args) => {
            let options = RestoreOptions {
                into_other_database: args.into_other_database,
                keep_global_objects: args.keep_global_objects,
            };
            gate(None)?.restore(&args.file, args.yes, options).await
        }
        Command::Verify(args) => gate(None)?.verify(args.scratch_url.as_ref()).await,
        Command::Baseline(args) => gate(None)?.baseline(args.version, args.verify).await,
        Command::Adopt(args) => gate(None)?.adopt(args.from.into()).await,
        Command::Repair(args) => {
            let repaired = gate(None)?.repair(args.version, args.applied).await?;
            output::repaired(&repaired);
            Ok(())
        }
    }
}

/// `serve`: gate, print the outcome, then serve until SIGTERM or SIGINT.
async fn serve_until_stopped(gate: Gate, stop: Stop) -> Result<(), Error> {
    let (application, report) = Application::start(gate).await?;
    output::gate_done(&report, &application.gate().release().compat);
    application
        .run_until_stopped(async move {
            let signal = stop.wait().await;
            tracing::info!(signal, "shutting down: finishing in-flight requests");
        })
        .await
}

/// The library's settings from the flags and `SCHEMAGATE_*` variables.
fn settings(cli: &Cli, serve: Option<&ServeArgs>, dry_run: bool) -> Settings {
    let gate = &cli.gate;
    let backup = &cli.backup;
    let defaults = ServiceSettings::default();
    Settings {
        connect_timeout: gate.connect_timeout,
        lock_timeout: gate.lock_timeout,
        limits: schemagate::limits::Limits {
            lock_timeout: gate.ddl_lock_timeout,
            retries: gate.ddl_retries,
            statement_timeout: gate.statement_timeout,
        },
        dry_run,
        strict_lint: gate.lint.map(|mode| mode == LintMode::Strict),
        backup: BackupSettings {
            dir: backup.backup_dir.clone(),
            skip: backup.no_backup,
            keep: backup.backup_keep,
            max_age: backup.backup_max_age,
            timeout: backup.backup_timeout,
            // pg_restore and psql are taken from beside the pg_dump (`Tool::beside`).
            pg_dump: backup
                .pg_dump
                .clone()
                .or_else(|| backup.pg_bin_dir.as_ref().map(|dir| dir.join("pg_dump"))),
            verify_restore: backup.verify_restore,
        },
        service: match serve {
            Some(args) => ServiceSettings {
                listen: args.listen,
                metrics_prefix: args.metrics_prefix.clone(),
                refresh_interval: args.refresh_interval,
                drift_interval: args.drift_interval,
                no_migrate: args.no_migrate,
                connections: ConnectionLimits {
                    header_read_timeout: args.header_read_timeout,
                    keep_alive_timeout: args.keep_alive_timeout,
                    max_connections: args.max_connections,
                },
            },
            None => defaults,
        },
        fleet: FleetSettings {
            wait: gate.fleet_wait,
            ignore: gate.ignore_fleet,
        },
        atomic: gate.atomic.then_some(true),
    }
}

/// compat.toml and the catalogue: embedded, or `--compat` / `--migrations-dir` (exit 2).
/// compat.toml is read first, as [`release_connecting`] does, so that with both bad every
/// command names the same file.
fn release(gate: &GateArgs, embedded: &Embedded) -> Result<Release, Error> {
    let compat = compat(gate, embedded)?;
    Ok(Release::new(catalogue(gate, embedded)?, compat))
}

/// The release, with the gate's first session opening meanwhile: compat.toml first (it
/// names the session), then the catalogue on a thread of its own while the runtime
/// connects. A bad file is still exit 2, and abandons the session.
async fn release_connecting(
    gate: &GateArgs,
    embedded: &Embedded,
    url: Option<SecretString>,
) -> Result<(Release, Option<EarlySession>), Error> {
    let compat = compat(gate, embedded)?;
    let early = url.and_then(|url| EarlySession::open(url, &compat, gate.connect_timeout));
    let dir = gate.migrations_dir.clone();
    let embedded = embedded.catalogue;
    let catalogue = tokio::task::spawn_blocking(move || load(dir.as_deref(), embedded))
        .await
        .map_err(|e| Error::new(Exit::Internal, e))??;
    Ok((Release::new(catalogue, compat), early))
}

/// The catalogue, embedded or `--migrations-dir` (exit 2).
fn catalogue(gate: &GateArgs, embedded: &Embedded) -> Result<Catalogue, Error> {
    load(gate.migrations_dir.as_deref(), embedded.catalogue)
}

/// The catalogue of `dir`, else the embedded one (exit 2).
fn load(
    dir: Option<&Path>,
    embedded: fn() -> Result<Catalogue, catalogue::CatalogueError>,
) -> Result<Catalogue, Error> {
    match dir {
        Some(dir) => catalogue::from_dir(dir),
        None => embedded(),
    }
    // Without a database URL there is no engine to pick variants for: `version` lists and
    // `lint` reads PostgreSQL's (`V3__x.postgres.sql`), as docs/lint.md says.
    .and_then(|catalogue| catalogue.for_engine(catalogue::Engine::Postgres))
    .map_err(|e| Error::new(Exit::Usage, e))
}

/// compat.toml, embedded or `--compat`, with `--app-version` applied (exit 2).
fn compat(gate: &GateArgs, embedded: &Embedded) -> Result<Compat, Error> {
    match &gate.compat {
        Some(path) => Compat::from_file(path),
        None => Compat::parse("embedded compat.toml", embedded.compat),
    }
    // An empty APP_VERSION (an image built without a VERSION) means "not set".
    .and_then(|c| c.with_app_version(gate.app_version.as_deref().filter(|v| !v.is_empty())))
    .map_err(|e| Error::new(Exit::Usage, e))
}

/// Refuses `--rollback-to` (exit 2) beside a command that is not a rollback: any command
/// but `migrate`, `plan` or none, an explicit `serve` (a stray argument in a Deployment
/// would roll back at every start of every pod), and `--no-migrate`, which promises never
/// to change the schema.
fn rollback_goes_with(command: &Command, serve_named: bool) -> Result<(), Error> {
    let misplaced = match command {
        Command::Migrate | Command::Plan => return Ok(()),
        Command::Serve(args) if args.no_migrate => RollbackMisplaced::NoMigrate,
        Command::Serve(_) if !serve_named => return Ok(()),
        _ => RollbackMisplaced::Command,
    };
    Err(Error::new(Exit::Usage, misplaced))
}

/// `--rollback-to` beside something that is not a rollback.
#[derive(Debug, thiserror::Error)]
enum RollbackMisplaced {
    #[error(
        "--rollback-to goes with migrate, plan or no command (it rolls back, then exits); nothing was done"
    )]
    Command,
    #[error(
        "--rollback-to with --no-migrate (or SCHEMAGATE_NO_MIGRATE): --no-migrate never changes the schema and a rollback does; nothing was done. Drop one of them"
    )]
    NoMigrate,
}

/// `diff` found differences (exit 3).
#[derive(Debug, thiserror::Error)]
#[error("diff: the live schema differs from the recorded description (listed above)")]
struct Drifted;
