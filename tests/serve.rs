//! The service (issue 5): `/health`, `/metrics`, the background refresh, graceful shutdown,
//! `--no-migrate`, `healthcheck` and JSON logs; slow, idle and numerous clients (issue 22)
//! in [`slow_clients`].
//!
//! Most tests start the same `Application` the binary starts, in-process on port 0, and stop
//! it with their own shutdown future; the tests about signals, exit codes and logs run the
//! binary.

mod proxy;
mod slow_clients;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use hyper::{Body, Client, Method, Request, StatusCode};
use schemagate::gate::{Application, Error, Settings};
use schemagate::{Compat, Gate, Release, catalogue};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::support::serve::Served;
use crate::support::{Project, TestDb, sample, with_database};
use proxy::Proxy;

/// A refresh interval short enough for tests to see several refreshes.
const INTERVAL: Duration = Duration::from_millis(200);

/// An in-process application serving on a free port.
struct TestApp {
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), Error>>,
}

/// Gates (or looks, with `--no-migrate`) and serves `project` against `url`.
async fn spawn_app(project: &Project, url: &str, extra: &[&str]) -> TestApp {
    try_spawn_app(project, url, extra).await.unwrap()
}

async fn try_spawn_app(project: &Project, url: &str, extra: &[&str]) -> Result<TestApp, Error> {
    let release = Release::new(
        catalogue::from_dir(&project.migrations()).unwrap(),
        Compat::from_file(&project.path().join("compat.toml")).unwrap(),
    );
    let mut settings = Settings {
        connect_timeout: Duration::from_secs(10),
        ..Settings::default()
    };
    settings.backup.skip = true;
    settings.service.listen = "127.0.0.1:0".parse().unwrap();
    settings.service.refresh_interval = INTERVAL;
    match extra {
        [] => {}
        ["--no-migrate"] => settings.service.no_migrate = true,
        ["--metrics-prefix", prefix] => settings.service.metrics_prefix = (*prefix).to_owned(),
        [
            "--header-read-timeout",
            header,
            "--keep-alive-timeout",
            idle,
        ] => {
            let connections = &mut settings.service.connections;
            connections.header_read_timeout = schemagate::duration::parse(header).unwrap();
            connections.keep_alive_timeout = schemagate::duration::parse(idle).unwrap();
        }
        other => panic!("spawn_app does not know {other:?}"),
    }
    let gate = Gate::builder(release)
        .database_url(url)
        .settings(settings)
        .build()?;
    let (app, _report) = Application::start(gate).await?;
    let address = app.address();
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    Ok(TestApp {
        address,
        stop: Some(stop),
        task,
    })
}

impl TestApp {
    async fn get(&self, path: &str) -> (StatusCode, String) {
        request(self.address, Method::GET, path).await
    }

    async fn health(&self) -> (StatusCode, Value) {
        let (status, body) = self.get("/health").await;
        (status, serde_json::from_str(&body).unwrap())
    }

    async fn metrics(&self) -> String {
        let (status, body) = self.get("/metrics").await;
        assert_eq!(status, StatusCode::OK);
        body
    }

    /// Polls `/health` until `want` holds, or fails after `within`, showing the last body.
    async fn wait_for_health(
        &self,
        within: Duration,
        want: impl Fn(StatusCode, &Value) -> bool,
    ) -> Value {
        let started = Instant::now();
        loop {
            let (status, body) = self.health().await;
            if want(status, &body) {
                return body;
            }
            assert!(
                started.elapsed() < within,
                "/health did not change within {within:?}; last: {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the app and checks it stopped cleanly.
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }
}

async fn request(address: SocketAddr, method: Method, path: &str) -> (StatusCode, String) {
    let request = Request::builder()
        .method(method)
        .uri(format!("http://{address}{path}"))
        .body(Body::empty())
        .unwrap();
    let response = Client::new().request(request).await.unwrap();
    let status = response.status();
    let body = hyper::body::to_bytes(response.into_body()).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn serve_migrates_then_reports_a_healthy_schema_on_health() {
    let db = TestDb::new().await;
    let project = Project::with_tables(3, 2, 3);
    let app = spawn_app(&project, &db.url, &[]).await;
    assert_eq!(db.history().await, [1, 2, 3]);

    let (status, body) = app.health().await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], "v1.0.0");
    assert_eq!(
        body["schema"],
        serde_json::json!({"current":3,"min":2,"max":3,"pending":0,"compatible":true,"drift":null})
    );
    assert_eq!(body["database"]["reachable"], true);
    let checked_at = body["database"]["checked_at"].as_str().unwrap();
    time::OffsetDateTime::parse(checked_at, &time::format_description::well_known::Rfc3339)
        .unwrap();
    assert!(body.get("reason").is_none(), "{body}");

    let (status, body) = app.get("/health/live").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn unknown_paths_get_a_json_404_and_wrong_methods_a_405() {
    let db = TestDb::new().await;
    let project = Project::with_tables(1, 1, 1);
    let app = spawn_app(&project, &db.url, &[]).await;

    let (status, body) = app.get("/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"], "not found");

    for path in ["/health", "/health/live", "/metrics"] {
        let (status, body) = request(app.address, Method::POST, path).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"], "method not allowed");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_schema_migrated_beyond_the_window_out_of_band_turns_health_to_503_within_one_interval() {
    let db = TestDb::new().await;
    let project = Project::with_tables(3, 1, 3);
    let app = spawn_app(&project, &db.url, &[]).await;
    assert_eq!(app.health().await.0, StatusCode::OK);

    db.client()
        .await
        .batch_execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
             VALUES (9, 'out_of_band', '2026-01-01T00:00:00Z', '0')",
        )
        .await
        .unwrap();
    // One interval is 200 ms; allow for a busy machine.
    let body = app
        .wait_for_health(Duration::from_secs(3), |status, _| {
            status == StatusCode::SERVICE_UNAVAILABLE
        })
        .await;
    assert_eq!(body["status"], "fail");
    assert_eq!(body["schema"]["current"], 9);
    assert_eq!(body["schema"]["compatible"], false);
    let reason = body["reason"].as_str().unwrap();
    assert!(reason.contains("out of band from 3 to 9"), "{reason}");

    let metrics = app.metrics().await;
    assert_eq!(sample(&metrics, "schemagate_schema_compatible"), Some(0.0));
    assert_eq!(sample(&metrics, "schemagate_schema_current"), Some(9.0));
    assert_eq!(sample(&metrics, "schemagate_database_up"), Some(1.0));
    app.stop().await;
}

#[tokio::test]
async fn the_database_going_away_turns_health_to_503_and_database_up_to_0_then_recovers() {
    let db = TestDb::new().await;
    let server: url::Url = crate::support::server_url().parse().unwrap();
    let target = format!(
        "{}:{}",
        server.host_str().unwrap(),
        server.port().unwrap_or(5432)
    );
    let target: SocketAddr = tokio::net::lookup_host(target)
        .await
        .unwrap()
        .find(SocketAddr::is_ipv4)
        .unwrap();
    let proxy = Proxy::start(target).await;
    let mut via_proxy: url::Url = db.url.parse().unwrap();
    via_proxy.set_host(Some("127.0.0.1")).unwrap();
    via_proxy.set_port(Some(proxy.address.port())).unwrap();

    let project = Project::with_tables(2, 1, 2);
    let app = spawn_app(&project, via_proxy.as_str(), &[]).await;
    assert_eq!(app.health().await.0, StatusCode::OK);

    // Every connection closed, and the port refuses new ones.
    proxy.switch_off().await;
    let body = app
        .wait_for_health(Duration::from_secs(5), |status, _| {
            status == StatusCode::SERVICE_UNAVAILABLE
        })
        .await;
    assert_eq!(body["database"]["reachable"], false);
    assert_eq!(body["schema"]["current"], 2, "the last known version");
    let reason = body["reason"].as_str().unwrap();
    assert!(reason.starts_with("database unreachable"), "{reason}");
    assert_eq!(
        sample(&app.metrics().await, "schemagate_database_up"),
        Some(0.0)
    );

    proxy.switch_on().await;
    let body = app
        .wait_for_health(Duration::from_secs(5), |status, _| status == StatusCode::OK)
        .await;
    assert_eq!(body["database"]["reachable"], true);
    assert_eq!(
        sample(&app.metrics().await, "schemagate_database_up"),
        Some(1.0)
    );
    app.stop().await;
}

#[tokio::test]
async fn metrics_have_help_and_type_for_every_name_and_one_schema_version_series() {
    let db = TestDb::new().await;
    // The window reaches 4 but the catalogue stops at 3: someone else may apply 4.
    let project = Project::with_tables(3, 1, 4);
    let app = spawn_app(&project, &db.url, &["--metrics-prefix", "sgtest"]).await;
    let metrics = app.metrics().await;
    let expected = [
        ("app_version", "gauge"),
        ("schema_version", "gauge"),
        ("schema_current", "gauge"),
        ("schema_min_supported", "gauge"),
        ("schema_max_supported", "gauge"),
        ("schema_compatible", "gauge"),
        ("migrations_pending", "gauge"),
        ("migration_duration_seconds", "histogram"),
        ("migration_failures_total", "counter"),
        ("rollbacks_total", "counter"),
        ("lock_wait_seconds", "gauge"),
        ("backup_last_success_timestamp_seconds", "gauge"),
        ("backup_size_bytes", "gauge"),
        ("backup_duration_seconds", "gauge"),
        ("backups_skipped_total", "counter"),
        ("database_up", "gauge"),
        ("lint_findings", "gauge"),
    ];
    for (name, kind) in expected {
        assert!(
            metrics.contains(&format!("# HELP sgtest_{name} ")),
            "no HELP for {name}:\n{metrics}"
        );
        assert!(
            metrics.contains(&format!("# TYPE sgtest_{name} {kind}\n")),
            "no TYPE {kind} for {name}:\n{metrics}"
        );
    }
    assert!(
        !metrics.contains("\nschemagate_"),
        "the prefix applies to every name"
    );
    assert_eq!(
        sample(&metrics, "sgtest_app_version{version=\"v1.0.0\"}"),
        Some(1.0)
    );
    assert_eq!(sample(&metrics, "sgtest_schema_min_supported"), Some(1.0));
    assert_eq!(sample(&metrics, "sgtest_schema_max_supported"), Some(4.0));
    assert_eq!(sample(&metrics, "sgtest_schema_compatible"), Some(1.0));
    assert_eq!(sample(&metrics, "sgtest_database_up"), Some(1.0));
    assert_eq!(
        sample(&metrics, "sgtest_migration_duration_seconds_count"),
        Some(3.0),
        "one observation per applied migration:\n{metrics}"
    );
    assert!(sample(&metrics, "sgtest_lock_wait_seconds").is_some());
    let schema_series = |m: &str| {
        m.lines()
            .filter(|l| l.starts_with("sgtest_schema_version{"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        schema_series(&metrics),
        ["sgtest_schema_version{version=\"3\"} 1"]
    );

    // A change inside the window (another release applied 4): still healthy, and the old
    // label's series is gone.
    db.client()
        .await
        .batch_execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
             VALUES (4, 'next_release', '2026-01-01T00:00:00Z', '0')",
        )
        .await
        .unwrap();
    app.wait_for_health(Duration::from_secs(3), |_, body| {
        body["schema"]["current"] == 4
    })
    .await;
    assert_eq!(app.health().await.0, StatusCode::OK);
    let metrics = app.metrics().await;
    assert_eq!(
        schema_series(&metrics),
        ["sgtest_schema_version{version=\"4\"} 1"]
    );
    app.stop().await;
}

#[tokio::test]
async fn metrics_pass_promtool_check_metrics() {
    let found = tokio::process::Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success());
    if !found {
        crate::support::skip_or_fail(
            "metrics_pass_promtool_check_metrics",
            "promtool is not on PATH (Debian/Ubuntu package `prometheus`)",
        );
        return;
    }
    let db = TestDb::new().await;
    let project = Project::with_tables(2, 1, 2);
    let app = spawn_app(&project, &db.url, &[]).await;
    let metrics = app.metrics().await;
    let mut promtool = tokio::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = promtool.stdin.take().unwrap();
    stdin.write_all(metrics.as_bytes()).await.unwrap();
    drop(stdin);
    let output = promtool.wait_with_output().await.unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{}{}\n--- metrics ---\n{metrics}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    app.stop().await;
}

#[tokio::test]
async fn serve_no_migrate_becomes_ready_only_after_another_process_migrates() {
    let db = TestDb::new().await;
    let project = Project::with_tables(3, 2, 3);
    let app = spawn_app(&project, &db.url, &["--no-migrate"]).await;
    let (status, body) = app.health().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["schema"]["current"], 0);
    assert_eq!(body["schema"]["pending"], 3);
    let reason = body["reason"].as_str().unwrap();
    assert!(reason.contains("waiting for the migration Job"), "{reason}");
    // Several refreshes later it has still changed nothing.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(app.health().await.0, StatusCode::SERVICE_UNAVAILABLE);
    assert!(db.history().await.is_empty());
    assert!(db.tables().await.is_empty());

    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    let body = app
        .wait_for_health(Duration::from_secs(3), |status, _| status == StatusCode::OK)
        .await;
    assert_eq!(body["schema"]["current"], 3);
    assert_eq!(body["schema"]["pending"], 0);
    app.stop().await;
}

#[tokio::test]
async fn serve_no_migrate_exits_3_when_the_schema_is_above_the_window() {
    let db = TestDb::new().await;
    Project::with_tables(3, 1, 3)
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    let older = Project::with_tables(2, 1, 2);
    let run = older
        .run(
            &db.url,
            &["serve", "--no-migrate", "--listen", "127.0.0.1:0"],
        )
        .await;
    run.expect_code(3);
}

#[tokio::test]
async fn serve_refuses_with_the_gate_exit_code() {
    let db = TestDb::new().await;
    Project::with_tables(3, 1, 3)
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    let older = Project::with_tables(2, 1, 2);
    let run = older
        .run(
            &db.url,
            &["serve", "--no-backup", "--listen", "127.0.0.1:0"],
        )
        .await;
    run.expect_code(3);
    run.expect_text("above this release's max 2");

    let unreachable = with_database("postgres://postgres@127.0.0.1:1/", "none");
    let run = older
        .run(
            &unreachable,
            &[
                "serve",
                "--no-backup",
                "--listen",
                "127.0.0.1:0",
                "--connect-timeout",
                "1s",
            ],
        )
        .await;
    run.expect_code(4);
}

#[tokio::test]
async fn healthcheck_exits_0_on_200_and_1_otherwise() {
    let db = TestDb::new().await;
    let project = Project::with_tables(1, 1, 1);
    let app = spawn_app(&project, &db.url, &[]).await;
    let url = |path: &str| format!("http://{}{path}", app.address);
    project
        .run(&db.url, &["healthcheck", "--url", &url("/health")])
        .await
        .expect_code(0);
    let not_found = project
        .run(&db.url, &["healthcheck", "--url", &url("/nope")])
        .await;
    not_found.expect_code(1);
    not_found.expect_text("404");
    project
        .run(
            &db.url,
            &["healthcheck", "--url", "http://127.0.0.1:1/health"],
        )
        .await
        .expect_code(1);
    app.stop().await;

    // A failing /health (503) is exit 1 too.
    let waiting = Project::with_tables(2, 2, 2);
    let fresh = TestDb::new().await;
    let app = spawn_app(&waiting, &fresh.url, &["--no-migrate"]).await;
    let run = waiting
        .run(
            &fresh.url,
            &[
                "healthcheck",
                "--url",
                &format!("http://{}/health", app.address),
            ],
        )
        .await;
    run.expect_code(1);
    run.expect_text("503");
    app.stop().await;
}

async fn serve_binary(project: &Project, url: &str, rust_log: &str) -> Served {
    crate::support::serve::spawn(project, url, &["--no-backup"], rust_log).await
}

async fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().unwrap().to_string();
    let status = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish_and_exits_0() {
    let db = TestDb::new().await;
    let project = Project::with_tables(1, 1, 1);
    let mut served = serve_binary(&project, &db.url, "info").await;

    // A request in flight: the server has accepted the connection and read the start of a
    // request whose end has not arrived yet (as a slow client on a slow network would).
    // Graceful shutdown must wait for it rather than cut it off.
    let mut slow = TcpStream::connect(served.address).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    sigterm(&served.child).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        served.child.try_wait().unwrap().is_none(),
        "serve exited with a request in flight"
    );
    assert!(
        TcpStream::connect(served.address).await.is_err(),
        "no new connections once shutting down"
    );

    slow.write_all(b"\r\n").await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(5), slow.read_to_string(&mut response))
        .await
        .expect("the in-flight request is answered")
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.contains("\"status\":\"ok\""), "{response}");

    let status = tokio::time::timeout(Duration::from_secs(5), served.child.wait())
        .await
        .expect("serve exits after the request")
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let log = served.log.await.unwrap();
    assert!(log.iter().any(|l| l.contains("SIGTERM")), "{log:#?}");
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_one_line_per_request_at_debug() {
    let db = TestDb::new().await;
    let project = Project::with_tables(1, 1, 1);
    let mut served = serve_binary(&project, &db.url, "info,schemagate::server=debug").await;
    let (status, _) = request(served.address, Method::GET, "/health/live").await;
    assert_eq!(status, StatusCode::OK);
    sigterm(&served.child).await;
    assert_eq!(served.child.wait().await.unwrap().code(), Some(0));
    let log = served.log.await.unwrap();
    for line in &log {
        let entry: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        for field in ["timestamp", "level", "target", "message"] {
            assert!(entry.get(field).is_some(), "no {field}: {line}");
        }
    }
    let requests: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("\"message\":\"request\"") && l.contains("/health/live"))
        .collect();
    assert_eq!(requests.len(), 1, "{log:#?}");
    let request: Value = serde_json::from_str(requests[0]).unwrap();
    assert_eq!(request["level"], "DEBUG");
    assert_eq!(request["path"], "/health/live");
    assert_eq!(request["status"], 200);
}

#[tokio::test]
async fn while_the_gate_waits_for_the_lock_serve_answers_live_and_metrics_and_says_why_it_is_unready()
 {
    let db = TestDb::new().await;
    let project = Project::with_tables(1, 1, 1);
    let holder = db.client().await;
    holder
        .execute(
            "SELECT pg_advisory_lock($1)",
            &[&crate::support::MIGRATION_LOCK_KEY],
        )
        .await
        .unwrap();
    let port = crate::support::cluster::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = project
        .command(&db.url, &["serve", "--no-backup", "--listen", &listen])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let address: SocketAddr = listen.parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        if let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(address)).await
        {
            let (status, body) = request(address, Method::GET, "/health").await;
            if body.contains("waiting for the migration lock held by") {
                assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
                break body;
            }
        }
        assert!(
            Instant::now() < deadline,
            "/health never said it waits for the lock"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(body.contains("\"status\":\"starting\""), "{body}");
    assert_eq!(
        request(address, Method::GET, "/health/live").await.0,
        StatusCode::OK
    );
    let (status, metrics) = request(address, Method::GET, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        sample(&metrics, "schemagate_schema_max_supported"),
        Some(1.0)
    );
    // Once the lock is free the gate migrates and /health turns 200.
    drop(holder);
    let deadline = Instant::now() + Duration::from_secs(30);
    while request(address, Method::GET, "/health").await.0 != StatusCode::OK {
        assert!(Instant::now() < deadline, "/health never turned 200");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(db.history().await, vec![1]);
    sigterm(&child).await;
    assert_eq!(child.wait().await.unwrap().code(), Some(0));
}
