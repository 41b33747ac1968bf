//! Test support: a throwaway `mariadbd` of its own (a temporary data directory, a free
//! port), for what the shared server must not be changed for: TLS with the test
//! certificates the PostgreSQL TLS tests use (made by `openssl`), and `read_only`. Killed
//! and removed when the value goes.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use schemagate_testing::tls::Certificates;

use super::options::Options;

/// A running throwaway server.
pub(crate) struct Throwaway {
    /// The data directory and socket, held (not read) until the value goes.
    _dir: tempfile::TempDir,
    certs: Option<Certificates>,
    port: u16,
    server: tokio::process::Child,
}

/// What the server is started with.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Setup {
    /// Certificates: a CA, a server certificate for the name `localhost` only, and a
    /// second CA that signed nothing of this server.
    pub tls: bool,
    /// `--read-only`.
    pub read_only: bool,
}

impl Throwaway {
    /// Initialises a data directory and starts the server on it; panics naming what is
    /// missing (`mariadb-install-db`, `mariadbd`, `openssl`: Debian's mariadb-server and
    /// openssl packages).
    pub(crate) async fn start(setup: Setup) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let user = run("id", &["-un"], dir.path()).await.trim().to_owned();
        let data = dir.path().join("data");
        // Its internal temporary tables in a directory of its own: in the shared /tmp, a
        // killed server's leftover `#sql-temptable-<pid>-…` file meets the next server that
        // gets the same pid (pids wrap at 32,768 here), whose temporary table then cannot be
        // made, and MariaDB 10.11 fails or crashes on that path.
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        let tmpdir = format!("--tmpdir={}", tmp.display());
        run(
            "mariadb-install-db",
            &[
                "--no-defaults",
                &tmpdir,
                &format!("--datadir={}", data.display()),
                &format!("--user={user}"),
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            dir.path(),
        )
        .await;
        let certs = if setup.tls {
            Some(
                Certificates::make("the throwaway mariadbd")
                    .await
                    .expect("openssl makes the test certificates (Debian: openssl)"),
            )
        } else {
            None
        };
        let port = free_port();
        let mut command = tokio::process::Command::new("mariadbd");
        command
            .arg("--no-defaults")
            .arg(&tmpdir)
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", dir.path().join("sock").display()))
            .arg(format!("--pid-file={}", dir.path().join("pid").display()))
            .arg(format!("--port={port}"))
            .arg(format!("--user={user}"))
            .args([
                "--bind-address=127.0.0.1",
                "--skip-grant-tables",
                "--innodb-buffer-pool-size=16M",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        if let Some(certs) = &certs {
            for (option, file) in [
                ("ssl-ca", "ca.crt"),
                ("ssl-cert", "server.crt"),
                ("ssl-key", "server.key"),
            ] {
                command.arg(format!("--{option}={}", certs.path(file).display()));
            }
        }
        if setup.read_only {
            command.arg("--read-only");
        }
        let server = command
            .spawn()
            .expect("mariadbd (Debian: mariadb-server) runs");
        let started = Self {
            _dir: dir,
            certs,
            port,
            server,
        };
        super::connect::connect(
            &started.options("127.0.0.1", "?ssl-mode=DISABLED"),
            Duration::from_secs(60),
        )
        .await
        .expect("the throwaway mariadbd accepts connections");
        started
    }

    /// Options for `host` (`localhost` or `127.0.0.1`) with `query` (`?ssl-mode=…`).
    pub(crate) fn options(&self, host: &str, query: &str) -> Options {
        Options::parse_with(
            &format!("mysql://root@{host}:{}/mysql{query}", self.port),
            &Default::default(),
            "root",
        )
        .unwrap()
    }

    /// A certificate of the server's TLS setup (`ca.crt`, `wrong-ca.crt`).
    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.certs
            .as_ref()
            .expect("the server was started with TLS")
            .path(name)
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let _ = self.server.start_kill();
    }
}

/// A port no one listens on now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Runs a program in `dir`, panicking with its output when it fails; its stdout.
async fn run(program: &str, args: &[&str], dir: &Path) -> String {
    let output = tokio::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| panic!("{program} runs (Debian: mariadb-server): {e}"));
    assert!(output.status.success(), "{program} {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}
