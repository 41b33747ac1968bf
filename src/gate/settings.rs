//! Every setting of a gate, as plain values with the CLI's defaults (DESIGN §7): the binary
//! fills them from flags and `SCHEMAGATE_*`, an application through [`super::GateBuilder`].

use std::path::PathBuf;
use std::time::Duration;

use crate::limits::Limits;
use crate::server::ConnectionLimits;

/// How the gate connects, waits, migrates and lints.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Give up connecting after this long (exit 4). Default 60 s.
    pub connect_timeout: Duration,
    /// Give up waiting for the migration lock after this long (exit 7). Default 300 s.
    pub lock_timeout: Duration,
    /// DDL lock timeout, retries and statement timeout of each step (DESIGN §12).
    pub limits: Limits,
    /// Plan and report, change nothing.
    pub dry_run: bool,
    /// `Some(true)`: refuse every unwaived lint finding; `Some(false)`: only
    /// `breaks-window`; `None`: as compat.toml's `[lint] strict` says.
    pub strict_lint: Option<bool>,
    /// The backup before a change.
    pub backup: BackupSettings,
    /// How `/health` and `/metrics` are kept current.
    pub service: ServiceSettings,
    /// How the gate treats live replicas of other releases (DESIGN §14).
    pub fleet: FleetSettings,
    /// `Some(true)`: apply the whole plan in one transaction (`--atomic`); `Some(false)`:
    /// one transaction per file; `None`: as compat.toml's `[apply] atomic` says.
    pub atomic: Option<bool>,
}

/// Admission by the fleet before any change (DESIGN §14).
#[derive(Debug, Clone, Copy, Default)]
pub struct FleetSettings {
    /// Wait this long for the replicas a change would break to be gone (re-checking every
    /// refresh interval) before refusing; zero refuses at once. Default 0.
    pub wait: Duration,
    /// Change the schema even so, with a warning recorded in the audit row.
    pub ignore: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(60),
            lock_timeout: Duration::from_secs(300),
            limits: Limits {
                lock_timeout: Duration::from_secs(5),
                retries: 10,
                statement_timeout: None,
            },
            dry_run: false,
            strict_lint: None,
            backup: BackupSettings::default(),
            service: ServiceSettings::default(),
            fleet: FleetSettings::default(),
            atomic: None,
        }
    }
}

/// Where and how the pre-change backup is taken and kept (DESIGN §6).
#[derive(Debug, Clone)]
pub struct BackupSettings {
    /// Directory for backups and their manifests (created 0700). Default `./backups`.
    pub dir: PathBuf,
    /// Change the schema without a backup (logged as a warning and counted in metrics).
    pub skip: bool,
    /// Keep at most this many (the newest of each schema version is always kept). Default 10.
    pub keep: usize,
    /// Remove backups older than this (the newest of each version is kept). Default 7 days.
    pub max_age: Duration,
    /// Kill pg_dump and refuse the change (exit 5) after this long. Default 1 h.
    pub timeout: Duration,
    /// The pg_dump binary; by default the one whose major equals the server's.
    pub pg_dump: Option<PathBuf>,
    /// On MariaDB/MySQL, load each dump into a scratch database and compare its schema
    /// with the live one's before keeping it (a failure refuses the change, exit 5).
    pub verify_restore: bool,
}

impl Default for BackupSettings {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("./backups"),
            skip: false,
            keep: 10,
            max_age: Duration::from_secs(7 * 24 * 3600),
            timeout: Duration::from_secs(3600),
            pg_dump: None,
            verify_restore: false,
        }
    }
}

/// The service side: the listener and its limits, metric names and the background refresh
/// (DESIGN §8).
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// Where the standalone `serve` listens. Default `0.0.0.0:8080`.
    pub listen: std::net::SocketAddr,
    /// Prefix of every metric name. Default `schemagate`.
    pub metrics_prefix: String,
    /// How often the refresh re-reads the schema version. Default 15 s.
    pub refresh_interval: Duration,
    /// How often the refresh describes the live schema and compares it with the recorded
    /// description (DESIGN §19); zero turns it off. Default 5 min.
    pub drift_interval: Duration,
    /// Never change the schema (a Job migrates): the gate only looks, and `/health` stays
    /// unready while the schema is below the window.
    pub no_migrate: bool,
    /// How the standalone server bounds slow, idle and numerous clients.
    pub connections: ConnectionLimits,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            listen: std::net::SocketAddr::from(([0, 0, 0, 0], 8080)),
            metrics_prefix: "schemagate".to_owned(),
            refresh_interval: Duration::from_secs(15),
            drift_interval: Duration::from_secs(300),
            no_migrate: false,
            connections: ConnectionLimits::default(),
        }
    }
}
