//! Test support: a throwaway `mariadbd` of its own (a temporary data directory, a free
//! port), for what the shared server must not be changed for: TLS with certificates made
//! here by `openssl`, and `read_only`. Killed and removed when the value goes.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::options::Options;

/// A running throwaway server.
pub(crate) struct Throwaway {
    dir: tempfile::TempDir,
    port: u16,
    server: tokio::process::Child,
}

/// What the server is started with.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Setup {
    /// Certificates: a CA, and a server certificate for the name `localhost` only.
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
        run(
            "mariadb-install-db",
            &[
                "--no-defaults",
                &format!("--datadir={}", data.display()),
                &format!("--user={user}"),
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            dir.path(),
        )
        .await;
        if setup.tls {
            certificates(dir.path()).await;
        }
        let port = free_port();
        let mut command = tokio::process::Command::new("mariadbd");
        command
            .arg("--no-defaults")
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
        if setup.tls {
            for (option, file) in [
                ("ssl-ca", "ca.crt"),
                ("ssl-cert", "server.crt"),
                ("ssl-key", "server.key"),
            ] {
                command.arg(format!("--{option}={}", dir.path().join(file).display()));
            }
        }
        if setup.read_only {
            command.arg("--read-only");
        }
        let server = command
            .spawn()
            .expect("mariadbd (Debian: mariadb-server) runs");
        let started = Self { dir, port, server };
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

    /// A file the server was given (`ca.crt`, `other-ca.crt`).
    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
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
        .unwrap_or_else(|e| panic!("{program} runs (Debian: mariadb-server, openssl): {e}"));
    assert!(output.status.success(), "{program} {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `ca.crt`, `server.crt`/`server.key` (for the name `localhost` only, signed by the CA)
/// and `other-ca.crt` (a CA that signed nothing of this server).
async fn certificates(dir: &Path) {
    for ca in ["ca", "other-ca"] {
        run(
            "openssl",
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.crt"),
                "-subj",
                &format!("/CN=schemagate test {ca}"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
            dir,
        )
        .await;
    }
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost\n",
    )
    .unwrap();
    run(
        "openssl",
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
        dir,
    )
    .await;
    run(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "2",
            "-days",
            "2",
            "-out",
            "server.crt",
            "-extfile",
            "server.ext",
        ],
        dir,
    )
    .await;
}
