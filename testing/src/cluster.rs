//! A PostgreSQL cluster of our own, for tests that restart the server or need a server set
//! up in a way the shared test server is not (password authentication, TLS): initdb into a
//! temporary directory as the `postgres` OS user, on a free port, of the test server's
//! major. Stopped and removed on drop, also when the test panics.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::postgres::{pg_server_bin_dir, server_major};
use crate::running_as_root;
use crate::skip::skip_or_fail;

/// How the cluster is set up before it starts.
#[derive(Default)]
pub struct Setup {
    /// Lines appended to postgresql.conf.
    pub conf: String,
    /// The whole pg_hba.conf, when not initdb's `trust` for everyone.
    pub hba: Option<String>,
    /// Files written into the data directory (name, content), owned by postgres, mode 0600.
    pub files: Vec<(String, Vec<u8>)>,
}

/// A running throwaway cluster.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl Cluster {
    /// Creates and starts a cluster set up as `setup` says, or says loudly why this machine
    /// cannot: a failure under CI, `None` (the test skips) elsewhere.
    pub async fn start(test: &str, setup: Setup) -> Option<Self> {
        let bin = pg_server_bin_dir().await;
        if !bin.join("initdb").exists() || !bin.join("pg_ctl").exists() {
            let major = server_major().await;
            skip_or_fail(
                test,
                &format!(
                    "no initdb and pg_ctl in {} (Debian/Ubuntu: postgresql-{major})",
                    bin.display()
                ),
            );
            return None;
        }
        if !running_as_root() {
            skip_or_fail(
                test,
                "needs root to run initdb and pg_ctl as the postgres OS user",
            );
            return None;
        }
        let Some((uid, gid)) = postgres_user() else {
            skip_or_fail(
                test,
                "no postgres OS user in /etc/passwd to run initdb and pg_ctl",
            );
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        let port = free_port();
        let cluster = Self { dir, bin, port };
        let data = cluster.data();
        let mut initdb = vec![
            "-D",
            data.to_str().unwrap(),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ];
        // New in 14; 13's initdb refuses it (its instructions only go to the output).
        if server_major().await >= 14 {
            initdb.push("--no-instructions");
        }
        as_postgres(&cluster.bin.join("initdb"), &initdb).await;
        for (name, content) in &setup.files {
            cluster.write(name, content, uid, gid);
        }
        if let Some(hba) = &setup.hba {
            cluster.write("pg_hba.conf", hba.as_bytes(), uid, gid);
        }
        if !setup.conf.is_empty() {
            let path = data.join("postgresql.conf");
            let mut conf = std::fs::read_to_string(&path).unwrap();
            conf.push('\n');
            conf.push_str(&setup.conf);
            std::fs::write(&path, conf).unwrap();
        }
        cluster.start_server().await;
        Some(cluster)
    }

    /// Writes a file into the data directory, owned by postgres, mode 0600.
    fn write(&self, name: &str, content: &[u8], uid: u32, gid: u32) {
        let path = self.data().join(name);
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
    }

    /// The data directory.
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The superuser over TCP on 127.0.0.1 (trust, unless the setup's pg_hba.conf says
    /// otherwise).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The superuser over the cluster's Unix socket (trust in initdb's pg_hba.conf), as a
    /// key=value string.
    pub fn socket_conninfo(&self, dbname: &str) -> String {
        format!(
            "host={} port={} user=postgres dbname={dbname}",
            self.dir.path().display(),
            self.port
        )
    }

    /// Starts the server (after `pg_ctl stop`).
    pub async fn start_server(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=localhost -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        self.pg_ctl(&["start", "-o", &options]).await;
    }

    /// Runs `pg_ctl -D <data> -w -l <log> <args>` and waits for it.
    pub async fn pg_ctl(&self, args: &[&str]) {
        let data = self.data();
        let log = self.dir.path().join("server.log");
        let mut all = vec![
            "-D",
            data.to_str().unwrap(),
            "-w",
            "-l",
            log.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        as_postgres(&self.bin.join("pg_ctl"), &all).await;
    }
}

impl Drop for Cluster {
    #[allow(
        clippy::disallowed_types,
        reason = "drop cannot await; pg_ctl stop -m immediate returns within seconds"
    )]
    fn drop(&mut self) {
        let stopped = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        // Drop may run while the test is failing, where a panic would abort the binary:
        // a cluster left running is reported, not hidden.
        if !stopped
            .as_ref()
            .is_ok_and(std::process::ExitStatus::success)
        {
            eprintln!(
                "cannot stop the throwaway cluster on port {}: {stopped:?}",
                self.port
            );
        }
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs a PostgreSQL server program as the `postgres` OS user, failing with its output.
async fn as_postgres(program: &Path, args: &[&str]) {
    let output = tokio::process::Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(program)
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{} {args:?} failed:\n{}{}",
        program.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// uid and gid of the `postgres` OS user, from /etc/passwd.
fn postgres_user() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let line = passwd.lines().find(|l| l.starts_with("postgres:"))?;
    let mut fields = line.split(':').skip(2);
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}
