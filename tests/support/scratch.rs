//! The scratch databases the binary makes (`src/scratch.rs`): it names them after its own
//! process, `schemagate_scratch_<pid>_<nanoseconds>`, so a test that knows the pid of the run
//! it started sees exactly that run's, whatever other tests do on the server meanwhile.

use std::time::Duration;

use tokio_postgres::Client;

use super::{Project, Run, connect, server_url};

/// The scratch databases of the binary's process `pid` on the test server.
pub async fn of_process(pid: u32) -> Vec<String> {
    listed(&connect(&server_url()).await, pid).await
}

/// The scratch databases of the process `pid`, listed through `admin`.
async fn listed(admin: &Client, pid: u32) -> Vec<String> {
    admin
        .query(
            "SELECT datname::text FROM pg_database WHERE datname LIKE $1 ORDER BY 1",
            &[&format!("schemagate\\_scratch\\_{pid}\\_%")],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// A run of the binary and what the server showed of its scratch databases.
pub struct Watched {
    /// The finished run.
    pub run: Run,
    /// Its process id.
    pub pid: u32,
    /// Every scratch database of the run seen on the server while it ran (polled every
    /// 10 ms): empty would mean the run made none that lived that long, or that the naming
    /// this module expects is no longer the binary's.
    pub seen: Vec<String>,
}

/// Runs the binary with `args` as [`Project::run`] does, watching the server for its scratch
/// databases while it runs.
pub async fn run_watching(project: &Project, url: &str, args: &[&str]) -> Watched {
    let admin = connect(&server_url()).await;
    let child = project.command(url, args).spawn().unwrap();
    let pid = child.id().unwrap();
    let finished = child.wait_with_output();
    tokio::pin!(finished);
    let mut seen: Vec<String> = Vec::new();
    let output = loop {
        tokio::select! {
            output = &mut finished => break output.unwrap(),
            () = tokio::time::sleep(Duration::from_millis(10)) => {
                for name in listed(&admin, pid).await {
                    if !seen.contains(&name) {
                        seen.push(name);
                    }
                }
            }
        }
    };
    Watched {
        run: Run(output),
        pid,
        seen,
    }
}
