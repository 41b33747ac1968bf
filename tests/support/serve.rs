//! `schemagate serve` as a child process: its address read from its JSON log, ready once
//! `/health` is 200 (it listens while it gates).

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::task::JoinHandle;

use super::Project;

/// The binary running `serve`.
pub struct Served {
    /// The process.
    pub child: tokio::process::Child,
    /// Where it listens.
    pub address: SocketAddr,
    /// Every stderr line, collected in the background (so the pipe never fills).
    pub log: JoinHandle<Vec<String>>,
}

/// Starts `serve --listen 127.0.0.1:0 --log-format json` with `args`, and returns once it
/// listens and `/health` is 200.
pub async fn spawn(project: &Project, url: &str, args: &[&str], rust_log: &str) -> Served {
    let mut argv = vec!["serve", "--listen", "127.0.0.1:0", "--log-format", "json"];
    argv.extend_from_slice(args);
    let mut command = project.command(url, &argv);
    command.env("RUST_LOG", rust_log).stdout(Stdio::null());
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let address = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("serve logs `listening` within 30 s")
            .unwrap()
            .unwrap_or_else(|| panic!("serve exited before listening:\n{}", seen.join("\n")));
        let parsed: Value = serde_json::from_str(&line).unwrap();
        seen.push(line);
        if parsed["message"] == "listening" {
            break parsed["address"].as_str().unwrap().parse().unwrap();
        }
    };
    let log = tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push(line);
        }
        seen
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(address, "/health").await.0 != 200 {
        assert!(Instant::now() < deadline, "/health never turned 200");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Served {
        child,
        address,
        log,
    }
}

/// GETs `path`: the status and the body.
pub async fn get(address: SocketAddr, path: &str) -> (u16, String) {
    let uri = format!("http://{address}{path}").parse().unwrap();
    let response = hyper::Client::new().get(uri).await.unwrap();
    let status = response.status().as_u16();
    let body = hyper::body::to_bytes(response.into_body()).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}
