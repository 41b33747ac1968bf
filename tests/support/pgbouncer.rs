//! PgBouncer in front of the test server, for the gate's refusal of a transaction pooler:
//! Debian's `pgbouncer` with a throwaway configuration on a free port, every client logged
//! in to the server as the test server's user (`auth_type = any`, the server trusts it).
//! Killed on drop, also when the test panics.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use super::cluster::free_port;
use super::{running_as_root, server_url, skip_or_fail};

/// Where Debian's package installs it.
const PROGRAM: &str = "/usr/sbin/pgbouncer";

/// A running PgBouncer.
pub struct PgBouncer {
    dir: tempfile::TempDir,
    _process: tokio::process::Child,
    port: u16,
}

impl PgBouncer {
    /// Starts PgBouncer with `pool_mode` (`session`, `transaction`) in front of the test
    /// server, or says loudly why this machine cannot: a failure under CI, `None` (the test
    /// skips) elsewhere.
    pub async fn start(test: &str, pool_mode: &str) -> Option<Self> {
        if !Path::new(PROGRAM).exists() {
            skip_or_fail(
                test,
                &format!("no {PROGRAM} (Debian/Ubuntu: apt-get install pgbouncer)"),
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("pgbouncer.ini");
        std::fs::write(&config, configuration(dir.path(), port, pool_mode)).unwrap();
        let mut command = tokio::process::Command::new(PROGRAM);
        if running_as_root() {
            // PgBouncer refuses to run as root; it reads its files, then becomes postgres.
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
            command.args(["-u", "postgres"]);
        }
        let process = command
            .arg(&config)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let bouncer = Self {
            dir,
            _process: process,
            port,
        };
        bouncer.listening().await;
        Some(bouncer)
    }

    /// The test server's `database` through this PgBouncer.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Waits until it accepts connections, failing with its log after ten seconds.
    async fn listening(&self) {
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "pgbouncer did not listen on port {} within 10 s; its log:\n{}",
                self.port,
                std::fs::read_to_string(self.dir.path().join("pgbouncer.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// pgbouncer.ini: every database of the test server, as its user, without TLS to the
/// client (schemagate's default `sslmode=prefer` then connects in clear).
fn configuration(dir: &Path, port: u16, pool_mode: &str) -> String {
    let server = url::Url::parse(&server_url()).expect("TEST_DATABASE_URL is a URL");
    let host = server.host_str().unwrap_or("127.0.0.1");
    let server_port = server.port().unwrap_or(5432);
    let user = match server.username() {
        "" => "postgres",
        user => user,
    };
    format!(
        "[databases]\n\
         * = host={host} port={server_port} user={user}\n\
         [pgbouncer]\n\
         listen_addr = 127.0.0.1\n\
         listen_port = {port}\n\
         unix_socket_dir =\n\
         auth_type = any\n\
         pool_mode = {pool_mode}\n\
         ignore_startup_parameters = extra_float_digits,options\n\
         logfile = {}\n",
        dir.join("pgbouncer.log").display()
    )
}
