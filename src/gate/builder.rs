//! A release (its catalogue and its window) and the gate built from it: the value an
//! application holds and calls, as sqlx's `Migrator` and refinery's `Runner` are (STYLE 13).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prometheus::Registry;
use secrecy::{ExposeSecret, SecretString};
use tokio::task::JoinHandle;

use super::error::{Error, Exit, ExitWith, Stopped};
use super::event::{Event, Listener};
use super::settings::Settings;
use crate::catalogue::Catalogue;
use crate::config::Compat;
use crate::engine::{self, Context, Engine, Session};
use crate::server::{Health, Metrics, State};
use crate::stop::Stop;

/// What a release brings: its migrations and its compat window.
#[derive(Debug, Clone)]
pub struct Release {
    /// The validated catalogue.
    pub catalogue: Catalogue,
    /// The validated compat.toml.
    pub compat: Compat,
}

impl Release {
    /// A release of these migrations and this window.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let release = schemagate::Release::new(
    ///     schemagate::catalogue::from_dir("migrations".as_ref())?,
    ///     schemagate::Compat::from_toml_str(&std::fs::read_to_string("compat.toml")?)?,
    /// );
    /// assert!(release.compat.window.min <= release.compat.window.max);
    /// # Ok(()) }
    /// ```
    pub fn new(catalogue: Catalogue, compat: Compat) -> Self {
        Self { catalogue, compat }
    }
}

/// A release gated against one database with its settings: [`Gate::run`] migrates (or
/// refuses), [`Gate::routes`] serves `/health` and `/metrics`, [`Gate::refresh`] keeps them
/// current.
pub struct Gate {
    pub(crate) release: Release,
    pub(crate) settings: Settings,
    /// The engine the URL names; its error is kept for the commands that need the database.
    engine: Option<Result<Arc<dyn Engine>, Arc<Error>>>,
    /// What stops the gate between steps (exit 8).
    pub(crate) stop: Stop,
    /// What `/health` and `/metrics` serve.
    pub(crate) state: State,
    /// The version the last run left, which `/health` judges changes against.
    pub(crate) baseline: Mutex<Option<i64>>,
    /// The session opened before the gate was built, which its first connection takes.
    early: Mutex<Option<EarlySession>>,
    /// Where the commands' [`Event`]s go.
    events: Listener,
}

/// A database session opened before the gate is built, so that connecting (TCP, TLS, the
/// server starting a backend, authentication) overlaps the caller's reading of its
/// migrations: the binary reads `--migrations-dir` meanwhile, which at 500 migrations takes
/// as long as connecting does. Given to [`GateBuilder::early_session`] with the same URL,
/// it is the gate's first connection; dropped unused, it is abandoned where it is.
pub struct EarlySession {
    url: SecretString,
    task: JoinHandle<Result<Box<dyn Session>, Error>>,
}

impl EarlySession {
    /// Starts connecting to `url` as the gate of `compat`'s release does, retrying for up to
    /// `connect_timeout`; `None` when the URL does not parse (the builder then says why).
    /// Call it inside a tokio runtime.
    pub fn open(url: SecretString, compat: &Compat, connect_timeout: Duration) -> Option<Self> {
        let context = context(compat, connect_timeout);
        let engine = engine::open(url.expose_secret(), &context).ok()?;
        let task = tokio::spawn(async move { engine.connect().await });
        Some(Self { url, task })
    }
}

impl Drop for EarlySession {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the engine of a gate of `compat`'s release gets: `schemagate/v<app version>` as
/// every connection's application name, and how long connecting retries.
fn context(compat: &Compat, connect_timeout: Duration) -> Context {
    Context {
        application_name: format!("schemagate/{}", compat.tag()),
        connect_timeout,
    }
}

impl Gate {
    /// Starts the settings of a gate of `release`, all at the CLI's defaults.
    ///
    /// ```no_run
    /// # async fn start() -> Result<(), schemagate::Error> {
    /// # let release: schemagate::Release = unimplemented!();
    /// let gate = schemagate::Gate::builder(release)
    ///     .database_url("postgres://app@db/app")
    ///     .backup_dir("/app/backups")
    ///     .build()?;
    /// let report = gate.run().await?;
    /// println!("schema at {}", report.plan.target);
    /// # Ok(()) }
    /// ```
    pub fn builder(release: Release) -> GateBuilder {
        GateBuilder {
            release,
            settings: Settings::default(),
            url: None,
            stop: Stop::never(),
            registry: None,
            early: None,
            events: Listener::default(),
        }
    }

    /// The release gated.
    pub fn release(&self) -> &Release {
        &self.release
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The metrics it records (in the registry given to the builder, or its own).
    pub fn metrics(&self) -> &Metrics {
        &self.state.metrics
    }

    /// Tells the builder's listener what a command is doing.
    pub(crate) fn tell(&self, event: Event<'_>) {
        self.events.tell(event);
    }

    /// The engine of the database URL, or a usage error saying how to give one or what is
    /// wrong with it.
    pub(crate) fn engine(&self) -> Result<&dyn Engine, Error> {
        match &self.engine {
            None => Err(Error::new(Exit::Usage, MissingUrl)),
            Some(Ok(engine)) => Ok(engine.as_ref()),
            Some(Err(error)) => Err(Error::new(
                Exit::Usage,
                InvalidUrl {
                    source: Arc::clone(error),
                },
            )),
        }
    }

    /// What the engine of another URL of this gate (`--scratch-url`) gets.
    pub(crate) fn context(&self) -> Context {
        context(&self.release.compat, self.settings.connect_timeout)
    }

    /// Connects with retry until the connect timeout (exit 4); a stop ends it at once
    /// (exit 8).
    pub(crate) async fn connect(&self) -> Result<Box<dyn Session>, Error> {
        let engine = self.engine()?;
        let early = self
            .early
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let connecting = async {
            if let Some(mut early) = early
                && let Ok(connected) = (&mut early.task).await
            {
                return connected;
            }
            engine.connect().await
        };
        tokio::select! {
            connected = connecting => connected,
            signal = self.stop.wait() => Err(stopped(signal, "while connecting to the database", None)),
        }
    }
}

/// Exit 8: a stop arrived `when`; `at` is the schema version, when known.
pub(crate) fn stopped(signal: &'static str, when: &str, at: Option<i64>) -> Error {
    Error::Stopped(Stopped {
        signal,
        when: when.to_owned(),
        at,
    })
}

/// A database URL that does not parse, kept for every command that asks for it.
#[derive(Debug, thiserror::Error)]
#[error("the database URL is invalid")]
pub(crate) struct InvalidUrl {
    #[source]
    source: Arc<Error>,
}

/// No database URL was given.
#[derive(Debug, thiserror::Error)]
#[error("no database URL: set --database-url, SCHEMAGATE_DATABASE_URL or DATABASE_URL")]
pub(crate) struct MissingUrl;

/// The settings of a [`Gate`], each defaulting as the CLI does.
pub struct GateBuilder {
    release: Release,
    settings: Settings,
    url: Option<SecretString>,
    stop: Stop,
    registry: Option<Registry>,
    early: Option<EarlySession>,
    events: Listener,
}

impl GateBuilder {
    /// The database, as a libpq URL or `key=value` string (DESIGN §10). Never logged.
    pub fn database_url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(SecretString::from(url.into()));
        self
    }

    /// The database URL as a secret, as the CLI reads it.
    pub fn database_secret(mut self, url: Option<SecretString>) -> Self {
        self.url = url;
        self
    }

    /// The gate's first session, opened by [`EarlySession::open`]; used only when it was
    /// opened to the URL this builder is given.
    pub fn early_session(mut self, session: Option<EarlySession>) -> Self {
        self.early = session;
        self
    }

    /// All settings at once (the CLI fills them from flags and environment).
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// Where backups go (default `./backups`).
    pub fn backup_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.settings.backup.dir = dir.into();
        self
    }

    /// Changes the schema without a backup first.
    pub fn no_backup(mut self) -> Self {
        self.settings.backup.skip = true;
        self
    }

    /// How long to wait for the database (default 60 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// How long to wait for the migration lock (default 300 s).
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.settings.lock_timeout = timeout;
        self
    }

    /// How long each statement may wait for a table lock before its step is retried
    /// (default 5 s), and how often (default 10).
    pub fn ddl_lock_timeout(mut self, timeout: Duration, retries: usize) -> Self {
        self.settings.limits.lock_timeout = timeout;
        self.settings.limits.retries = retries;
        self
    }

    /// Refuse every unwaived lint finding, not only `breaks-window`.
    pub fn strict_lint(mut self, strict: bool) -> Self {
        self.settings.strict_lint = Some(strict);
        self
    }

    /// Waits up to `wait` for live replicas of other releases that a change would break
    /// to be gone, instead of refusing at once (`--fleet-wait`).
    pub fn fleet_wait(mut self, wait: Duration) -> Self {
        self.settings.fleet.wait = wait;
        self
    }

    /// Changes the schema even when live replicas of another release would fail, with a
    /// warning in the audit row (`--ignore-fleet`).
    pub fn ignore_fleet(mut self) -> Self {
        self.settings.fleet.ignore = true;
        self
    }

    /// Applies the whole plan in one transaction, history rows included: a failure leaves
    /// the schema where it was (`--atomic`; default: compat.toml's `[apply] atomic`).
    pub fn atomic(mut self, atomic: bool) -> Self {
        self.settings.atomic = Some(atomic);
        self
    }

    /// Plan and report, change nothing.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.settings.dry_run = dry_run;
        self
    }

    /// What stops the gate between steps (exit 8); default: nothing. The binary passes
    /// [`Stop::on_signals`].
    pub fn stop(mut self, stop: Stop) -> Self {
        self.stop = stop;
        self
    }

    /// Registers the metrics into the application's registry instead of a fresh one, so
    /// one `/metrics` shows both.
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Calls `listen` with every [`Event`] of the commands (a rollback's plan, a restore's,
    /// each migration `verify` proves, what a dry run would do); by default they go nowhere.
    /// The binary prints them.
    ///
    /// ```no_run
    /// # async fn start(release: schemagate::Release) -> Result<(), schemagate::Error> {
    /// use schemagate::gate::Event;
    /// let gate = schemagate::Gate::builder(release)
    ///     .database_url("postgres://app@db/app")
    ///     .on_event(|event| match event {
    ///         Event::Plan { plan, .. } => tracing::info!(from = plan.current, to = plan.target, "rolling back"),
    ///         other => tracing::debug!(?other, "schemagate"),
    ///     })
    ///     .build()?;
    /// gate.rollback_to("v1.3.0").await?;
    /// # Ok(()) }
    /// ```
    pub fn on_event(mut self, listen: impl Fn(&Event<'_>) + Send + Sync + 'static) -> Self {
        self.events = Listener::new(listen);
        self
    }

    /// Validates the settings and the release's window against its catalogue (exit 2),
    /// resolves the catalogue for the engine (its variants, `V3__x.postgres.sql`), gives the
    /// catalogue's placeholders their values (compat.toml's, overridden by the
    /// environment's; one without a value is exit 2) and builds the gate; connects to
    /// nothing yet.
    pub fn build(mut self) -> Result<Gate, Error> {
        // The URL's engine picks each version's variant; without a URL the gate refuses to
        // connect later, and PostgreSQL's files are the ones checked meanwhile.
        let engine = self
            .url
            .as_ref()
            .map_or(crate::catalogue::Engine::Postgres, |url| {
                engine::kind(url.expose_secret()).variant()
            });
        let values = self.release.compat.placeholders.clone().with_environment();
        let catalogue = std::mem::take(&mut self.release.catalogue);
        self.release.catalogue = catalogue
            .for_engine(engine)
            .and_then(|c| c.with_placeholders(&values))
            .exit(Exit::Usage)?;
        let service = &self.settings.service;
        if service.refresh_interval.is_zero() {
            return Err(Error::new(Exit::Usage, SettingError::RefreshInterval));
        }
        let compat = &self.release.compat;
        crate::plan::reachable(&self.release.catalogue, &compat.window)
            .map_err(|problem| SettingError::Window {
                compat: compat.origin.clone(),
                problem,
            })
            .exit(Exit::Usage)?;
        let metrics = Metrics::register(
            self.registry.unwrap_or_default(),
            &service.metrics_prefix,
            &compat.app_version.to_string(),
            &compat.window,
        )
        .map_err(|source| SettingError::MetricsPrefix {
            prefix: service.metrics_prefix.clone(),
            source,
        })
        .exit(Exit::Usage)?;
        let url = self
            .url
            .filter(|url| !url.expose_secret().trim().is_empty());
        let early = self.early.filter(|early| {
            url.as_ref()
                .is_some_and(|url| url.expose_secret() == early.url.expose_secret())
        });
        let context = context(compat, self.settings.connect_timeout);
        let engine = url.map(|url| engine::open(url.expose_secret(), &context).map_err(Arc::new));
        Ok(Gate {
            engine,
            early: Mutex::new(early),
            stop: self.stop,
            state: State {
                health: Arc::new(Health::starting(&compat.tag())),
                metrics: Arc::new(metrics),
            },
            baseline: Mutex::new(None),
            release: self.release,
            settings: self.settings,
            events: self.events,
        })
    }
}

/// A setting the builder refuses (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum SettingError {
    /// compat.toml's window names no version of the catalogue.
    #[error("{compat}: {problem}")]
    Window {
        /// compat.toml's origin.
        compat: String,
        /// What is wrong with the window.
        problem: crate::plan::WindowError,
    },
    /// A zero refresh interval would spin.
    #[error("the refresh interval (--refresh-interval) must be above 0")]
    RefreshInterval,
    /// The prefix is not a valid metric name start.
    #[error("metrics prefix {prefix:?} (--metrics-prefix) is not a valid metric name")]
    MetricsPrefix {
        /// The prefix given.
        prefix: String,
        /// prometheus' complaint.
        #[source]
        source: prometheus::Error,
    },
}
