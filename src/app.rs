//! The only place that wires config, connection, lock, backup, migrations and server, and
//! that decides the exit code of each outcome (DESIGN §7).

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::Client;

use crate::backup::{self, RestorePlan};
use crate::catalogue::{self, Catalogue};
use crate::cli::{BackupArgs, Cli, Command, GateArgs, RestoreArgs};
use crate::config::Compat;
use crate::connection::Connection;
use crate::db;
use crate::history::HistoryError;
use crate::lock::{LockError, MigrationLock};
use crate::migrate::Executed;
use crate::plan::{self, Plan, Step};
use crate::stop::Stop;
use crate::{audit, history, migrate, output};

mod adopt;
mod backups;
mod baseline;
mod lint;
mod rollback;
mod steps;
mod verify;
use steps::execute_recorded;

mod serve;
pub use serve::Application;

/// The documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 1: unexpected internal error.
    Internal,
    /// 2: usage or configuration error (flags, compat.toml, migration files).
    Usage,
    /// 3: refused: schema outside the window, drift, or database ahead of this release.
    Refused,
    /// 4: database unreachable within `--connect-timeout`.
    Unreachable,
    /// 5: backup failed; nothing was changed.
    BackupFailed,
    /// 6: a migration or rollback step failed.
    StepFailed,
    /// 7: migration lock not acquired within `--lock-timeout`.
    LockTimeout,
    /// 8: stopped by SIGTERM/SIGINT before finishing; the database is at the last committed
    /// version.
    Stopped,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Internal => 1,
            Exit::Usage => 2,
            Exit::Refused => 3,
            Exit::Unreachable => 4,
            Exit::BackupFailed => 5,
            Exit::StepFailed => 6,
            Exit::LockTimeout => 7,
            Exit::Stopped => 8,
        }
    }
}

/// A command that did not succeed: why, and with which exit code.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub exit: Exit,
    /// What happened, for the log.
    pub error: anyhow::Error,
}

impl Failure {
    /// A failure with its exit code.
    pub fn new(exit: Exit, error: impl Into<anyhow::Error>) -> Self {
        Self {
            exit,
            error: error.into(),
        }
    }
}

/// Exit 8: a signal arrived `when` (e.g. "while waiting for the migration lock"); `at` is the
/// schema version the database is at, when known.
fn stopped(signal: &str, when: &str, at: Option<i64>) -> Failure {
    let state = match at {
        Some(version) => format!("the database is at schema version {version}"),
        None => "nothing was changed".to_owned(),
    };
    Failure::new(
        Exit::Stopped,
        anyhow::anyhow!("stopped by {signal} {when}; {state}; run again"),
    )
}

/// Exit 6: the lock's session died while a child worked; nothing after `at` was applied.
fn lock_lost(error: LockError, at: i64) -> Failure {
    Failure::new(
        Exit::StepFailed,
        anyhow::anyhow!("{error}; nothing after version {at} was applied; run again"),
    )
}

/// Refuses to change a server in recovery (exit 3): its writes would fail half-way through
/// the plan, after the backup, and the primary is where the schema lives. Asked only when
/// there is something to change, so the no-op gate pays nothing for it.
async fn primary_only(client: &Client) -> Result<(), Failure> {
    let in_recovery: bool = client
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .map_err(|e| {
            let exit = if db::connection_lost(&e) {
                Exit::Unreachable
            } else {
                Exit::Internal
            };
            Failure::new(
                exit,
                anyhow::anyhow!(
                    "cannot ask the server whether it is a standby: {}",
                    db::describe(&e)
                ),
            )
        })?
        .get(0);
    if in_recovery {
        return Err(Failure::new(
            Exit::Refused,
            anyhow::anyhow!(
                "this server is a standby (in recovery): nothing was changed; point schemagate at the primary (with several hosts, add target_session_attrs=read-write to the URL)"
            ),
        ));
    }
    Ok(())
}

/// Reading the history failed: exit 4 when the database went away, else 1.
fn read_failed(error: HistoryError) -> Failure {
    let exit = if error.connection_lost() {
        Exit::Unreachable
    } else {
        Exit::Internal
    };
    Failure::new(exit, error)
}

/// Shorthand to attach an exit code to any error.
trait ExitWith<T> {
    fn exit(self, exit: Exit) -> Result<T, Failure>;
}

impl<T, E: Into<anyhow::Error>> ExitWith<T> for Result<T, E> {
    fn exit(self, exit: Exit) -> Result<T, Failure> {
        self.map_err(|e| Failure::new(exit, e))
    }
}

/// What the release brings: its window and its migrations, plus where the database is.
pub struct Release {
    /// The validated compat.toml.
    pub compat: Compat,
    /// The validated catalogue.
    pub catalogue: Catalogue,
    /// The parsed database URL, if one was given (a parse error is kept for the commands
    /// that need the database: `version` does not).
    url: Option<Result<Connection, std::sync::Arc<crate::connection::ConnectionError>>>,
    /// `schemagate/v<app version>`, set as every connection's application_name.
    application_name: String,
    /// SIGTERM/SIGINT, watched from the start of the run.
    stop: Stop,
}

impl Release {
    /// Loads compat.toml and the catalogue (embedded or from the given paths); `stop` is
    /// the run's signal watch.
    pub fn load(gate: &GateArgs, stop: Stop) -> Result<Self, Failure> {
        let compat = load_compat(gate)?;
        let catalogue = match &gate.migrations_dir {
            Some(dir) => catalogue::from_dir(dir),
            None => catalogue::embedded(),
        }
        .exit(Exit::Usage)?;
        let url = gate
            .database_url
            .clone()
            .or_else(|| std::env::var("DATABASE_URL").ok().map(SecretString::from))
            .filter(|url| !url.expose_secret().trim().is_empty())
            .map(|url| Connection::parse(url.expose_secret()).map_err(std::sync::Arc::new));
        let application_name = format!("schemagate/{}", compat.tag());
        Ok(Self {
            compat,
            catalogue,
            url,
            application_name,
            stop,
        })
    }

    /// The parsed database URL, or a usage error saying how to give one or what is wrong
    /// with it.
    pub fn url(&self) -> Result<&Connection, Failure> {
        match &self.url {
            None => Err(Failure::new(Exit::Usage, db::DbError::Missing)),
            Some(Ok(connection)) => Ok(connection),
            Some(Err(error)) => Err(Failure::new(
                Exit::Usage,
                anyhow::Error::new(SharedError(error.clone()))
                    .context("the database URL is invalid"),
            )),
        }
    }

    /// Connects with retry until `--connect-timeout` (exit 4); a signal stops it at once
    /// (exit 8).
    pub async fn connect(&self, timeout: Duration) -> Result<Client, Failure> {
        let url = self.url()?;
        tokio::select! {
            connected = db::connect(url, &self.application_name, timeout) => {
                connected.map_err(|e| match e {
                    db::DbError::InvalidUrl { .. } => Failure::new(Exit::Usage, e),
                    _ => Failure::new(Exit::Unreachable, e),
                })
            }
            signal = self.stop.wait() => Err(stopped(signal, "while connecting to the database", None)),
        }
    }
}

/// compat.toml, embedded or `--compat`, with `--app-version` applied (exit 2).
fn load_compat(gate: &GateArgs) -> Result<Compat, Failure> {
    match &gate.compat {
        Some(path) => Compat::from_file(path),
        None => Compat::embedded(),
    }
    // An empty APP_VERSION (an image built without a VERSION) means "not set".
    .and_then(|c| c.with_app_version(gate.app_version.as_deref().filter(|v| !v.is_empty())))
    .exit(Exit::Usage)
}

/// A parse error kept for every command that asks for the URL.
#[derive(Debug)]
struct SharedError(std::sync::Arc<crate::connection::ConnectionError>);

impl std::fmt::Display for SharedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SharedError {}

/// What a gate run did, for the caller's output and metrics.
#[derive(Debug, Clone)]
pub struct GateReport {
    /// The plan it executed (or would have, on a dry run).
    pub plan: Plan,
    /// How long it waited for the migration lock.
    pub lock_waited: Duration,
    /// Each executed step and its duration.
    pub durations: Vec<(Step, Duration)>,
    /// The backup taken before the first step, if one was.
    pub backup: Option<backup::Backup>,
    /// Whether a backup was due but skipped with `--no-backup`.
    pub backup_skipped: bool,
    /// How many times a step was retried after a DDL lock timeout.
    pub lock_retries: u64,
    /// The DDL limits it ran (or would run) with.
    pub limits: crate::ddl::Limits,
    /// Unwaived lint findings in the plan, logged as warnings (DESIGN §12).
    pub lint_findings: usize,
}

/// Runs a command to completion.
pub async fn run(mut cli: Cli) -> Result<(), Failure> {
    let command = cli.take_command();
    if let Command::Healthcheck(args) = &command {
        // Needs neither compat.toml nor the catalogue: anything but a 200 is exit 1.
        return crate::server::healthcheck::check(&args.url)
            .await
            .exit(Exit::Internal);
    }
    if let Command::Lint(args) = &command {
        // Needs no database, and no catalogue when given paths.
        return lint::command(&cli.gate, args);
    }
    let stop = Stop::on_signals();
    let release = Release::load(&cli.gate, stop)?;
    if let Some(target) = cli.gate.rollback_to.as_deref() {
        return match command {
            Command::Serve(_) | Command::Migrate => {
                rollback::rollback(&release, &cli.gate, &cli.backup, target).await
            }
            Command::Plan => {
                rollback::rollback(
                    &release,
                    &GateArgs {
                        dry_run: true,
                        ..cli.gate.clone()
                    },
                    &cli.backup,
                    target,
                )
                .await
            }
            _ => Err(Failure::new(
                Exit::Usage,
                anyhow::anyhow!("--rollback-to goes with migrate, plan or no command"),
            )),
        };
    }
    match command {
        Command::Migrate => {
            let report = gate(&release, &cli.gate, &cli.backup).await?;
            output::gate_done(&report, &release.compat, cli.gate.dry_run);
            Ok(())
        }
        Command::Plan => {
            let report = gate(
                &release,
                &GateArgs {
                    dry_run: true,
                    ..cli.gate
                },
                &cli.backup,
            )
            .await?;
            output::gate_done(&report, &release.compat, true);
            Ok(())
        }
        Command::Check => check(&release, &cli.gate).await,
        Command::Status(args) => status(&release, &cli.gate, args.json).await,
        Command::Version => {
            output::version(&release.compat, &release.catalogue);
            Ok(())
        }
        Command::Serve(args) if !cli.gate.dry_run => {
            serve::serve(&release, &cli.gate, &cli.backup, &args).await
        }
        Command::Serve(_) => {
            let report = gate(&release, &cli.gate, &cli.backup).await?;
            output::gate_done(&report, &release.compat, true);
            Ok(())
        }
        Command::Backup => backups::backup_now(&release, &cli.gate, &cli.backup).await,
        Command::Backups(args) => backups::list(&release, &cli.gate, &cli.backup, &args).await,
        Command::Restore(args) => backups::restore(&release, &cli.gate, &cli.backup, &args).await,
        Command::Verify(args) => verify::verify(&release, &cli.gate, &args).await,
        Command::Baseline(args) => {
            baseline::baseline(&release, &cli.gate, &cli.backup, &args).await
        }
        Command::Adopt(args) => adopt::adopt(&release, &cli.gate, &cli.backup, &args).await,
        Command::Healthcheck(_) | Command::Lint(_) => {
            unreachable!("healthcheck and lint are answered before the release is loaded")
        }
    }
}

/// The gate of DESIGN §1: connect, lock, plan, (backup,) migrate, verdict, unlock.
pub async fn gate(
    release: &Release,
    gate_args: &GateArgs,
    backup_args: &BackupArgs,
) -> Result<GateReport, Failure> {
    let mut lock = acquire_lock(release, gate_args).await?;
    let lock_waited = lock.waited();
    let result = gate_locked(release, &mut lock, gate_args, backup_args).await;
    release_lock(lock).await;
    result.map(|locked| GateReport {
        backup_skipped: backup_args.no_backup && !gate_args.dry_run && !locked.plan.is_empty(),
        plan: locked.plan,
        lock_waited,
        durations: locked.durations,
        backup: locked.backup,
        lock_retries: locked.lock_retries,
        limits: gate_args.limits(),
        lint_findings: locked.lint_findings,
    })
}

/// Connects and takes the migration lock (exit 4, 7 or 8).
async fn acquire_lock(release: &Release, args: &GateArgs) -> Result<MigrationLock, Failure> {
    let client = release.connect(args.connect_timeout).await?;
    take_lock(release, client, args.lock_timeout).await
}

/// Takes the migration lock (exit 7 when `--lock-timeout` runs out, 8 on a signal).
async fn take_lock(
    release: &Release,
    client: Client,
    timeout: Duration,
) -> Result<MigrationLock, Failure> {
    tokio::select! {
        acquired = MigrationLock::acquire(client, timeout) => acquired.map_err(|e| match e {
            LockError::Timeout { .. } => Failure::new(Exit::LockTimeout, e),
            LockError::Query(ref source) if db::connection_lost(source) => Failure::new(Exit::Unreachable, e),
            _ => Failure::new(Exit::Internal, e),
        }),
        signal = release.stop.wait() => Err(stopped(signal, "while waiting for the migration lock", None)),
    }
}

/// Releases the lock; if that fails, closing the connection frees it anyway.
async fn release_lock(lock: MigrationLock) {
    if let Err(error) = lock.release().await {
        tracing::warn!(%error, "releasing the migration lock failed; it is freed when the connection closes");
    }
}

/// Runs `work` under the held lock: exit 6 when the lock's session dies meanwhile, exit 8
/// on a signal (`work` is dropped either way, which kills its child process and removes its
/// partial files). `what` names the work for the message; `at` is the schema version.
async fn guarded<T>(
    release: &Release,
    lock: &MigrationLock,
    what: &str,
    at: i64,
    work: impl std::future::Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    tokio::select! {
        done = lock.hold_while(work) => done.map_err(|lost| lock_lost(lost, at))?,
        signal = release.stop.wait() => Err(stopped(signal, what, Some(at))),
    }
}

/// What [`gate_locked`] did.
struct Locked {
    plan: Plan,
    durations: Vec<(Step, Duration)>,
    backup: Option<backup::Backup>,
    lock_retries: u64,
    lint_findings: usize,
}

/// The part of the gate that runs under the lock.
async fn gate_locked(
    release: &Release,
    lock: &mut MigrationLock,
    gate_args: &GateArgs,
    backup_args: &BackupArgs,
) -> Result<Locked, Failure> {
    let applied = history::read(lock.client()).await.map_err(read_failed)?;
    let adopted = baseline::adoption(release, lock, &applied).await?;
    let applied = match adopted {
        Some(version) => crate::baseline::rows(&release.catalogue, version),
        None => applied,
    };
    let plan =
        plan::forward(&release.catalogue, &applied, &release.compat.window).exit(Exit::Refused)?;
    // Before the backup and any change; a dry run refuses as the real run would.
    let lint_findings = lint::plan(release, &plan, lint::strict(gate_args, &release.compat))?;
    let nothing = |plan| Locked {
        plan,
        durations: Vec::new(),
        backup: None,
        lock_retries: 0,
        lint_findings,
    };
    if gate_args.dry_run || (plan.is_empty() && adopted.is_none()) {
        return Ok(nothing(plan));
    }
    // Under the lock and before anything changes, the history table included (DESIGN §1.5).
    primary_only(lock.connection()).await?;
    let at = if adopted.is_some() { 0 } else { plan.current };
    let backup = backups::backup_before_change(release, backup_args, lock, at).await?;
    if let Some(version) = adopted {
        baseline::record_baseline(release, lock, version, backup.as_ref()).await?;
    }
    let mut durations = Vec::with_capacity(plan.steps.len());
    let mut lock_retries = 0;
    if !plan.is_empty() {
        let started = Instant::now();
        let backup_file = backup.as_ref().map(|b| b.path.display().to_string());
        lock_retries = execute_recorded(
            release,
            lock,
            gate_args.limits(),
            &plan,
            backup_file,
            &mut |step, took| durations.push((step.clone(), took)),
        )
        .await?;
        tracing::info!(took = ?started.elapsed(), from = plan.current, to = plan.target, "migrations done");
    }
    let current = history::current_version(lock.client())
        .await
        .map_err(read_failed)?;
    plan::verdict(current, &release.compat.window, &release.catalogue).exit(Exit::Refused)?;
    Ok(Locked {
        plan,
        durations,
        backup,
        lock_retries,
        lint_findings,
    })
}

/// A change to record in the audit trail, by the release running.
struct Change {
    /// `migrate`, `rollback`, `restore`, `baseline` or `adopt`.
    action: &'static str,
    /// Schema version before and after (the last committed one, on failure).
    from: i64,
    to: i64,
    /// When it started.
    started: Instant,
    /// The backup taken before it.
    backup_file: Option<String>,
    /// `ok`, or what happened.
    outcome: String,
}

impl Change {
    /// The audit entry of this change by `release`.
    fn entry(self, release: &Release) -> audit::Entry {
        audit::Entry {
            action: self.action,
            app_version: release.compat.tag(),
            from: self.from,
            to: self.to,
            duration: self.started.elapsed(),
            backup_file: self.backup_file,
            outcome: self.outcome,
        }
    }
}

/// Records a change that was made: a failure to record is logged, not fatal, since the
/// change itself is committed.
async fn record(client: &Client, entry: &audit::Entry) {
    let recorded = match audit::ensure_table(client).await {
        Ok(()) => audit::record(client, entry).await,
        Err(error) => Err(error),
    };
    if let Err(error) = recorded {
        tracing::warn!(%error, "the change was made but could not be recorded in the audit trail");
    }
}

/// `check`: the read-only verdict, without the lock.
async fn check(release: &Release, args: &GateArgs) -> Result<(), Failure> {
    let client = release.connect(args.connect_timeout).await?;
    let applied = history::read(&client).await.map_err(read_failed)?;
    plan::check_history(&release.catalogue, &applied).exit(Exit::Refused)?;
    let current = plan::current_version(&applied);
    plan::verdict(current, &release.compat.window, &release.catalogue).exit(Exit::Refused)?;
    output::check_ok(current, &release.compat);
    Ok(())
}

/// `status`: catalogue against history.
async fn status(release: &Release, args: &GateArgs, json: bool) -> Result<(), Failure> {
    let client = release.connect(args.connect_timeout).await?;
    let applied = history::read(&client).await.map_err(read_failed)?;
    let recent = audit::recent(&client, 5).await.exit(Exit::Internal)?;
    output::status(&release.catalogue, &applied, &recent, &release.compat, json)
        .exit(Exit::Internal)
}
