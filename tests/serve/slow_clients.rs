//! Slow, idle and numerous clients (issue 22): a connection whose headers are late or that
//! idles is closed, a request framed by both `Content-Length` and `Transfer-Encoding` is
//! refused and its connection closed, and with more clients than the process has
//! descriptors `/health/live` still answers within a second, without a log line per
//! second about it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::spawn_app;
use crate::support::serve::{self, Served};
use crate::support::{Project, TestDb};

/// The clients that hold a connection without finishing a request: more than the
/// server's descriptors.
const CLIENTS: usize = 1_100;

/// The server's descriptor limit, soft and hard.
const DESCRIPTORS: u32 = 1_024;

/// The first lines of a request whose end never comes.
const HALF_A_REQUEST: &[u8] = b"GET /health HTTP/1.1\r\nHost: localhost\r\n";

/// Sets a process's descriptor limit (soft and hard) with util-linux's `prlimit`.
async fn limit_descriptors(pid: u32, soft: u64, hard: u64) {
    let status = tokio::process::Command::new("prlimit")
        .args([
            "--pid",
            &pid.to_string(),
            &format!("--nofile={soft}:{hard}"),
        ])
        .kill_on_drop(true)
        .status()
        .await
        .unwrap();
    assert!(status.success(), "prlimit failed for pid {pid}");
}

/// Raises this test process's soft descriptor limit to its hard one: it holds
/// [`CLIENTS`] sockets while other tests run, and a shell's soft limit is often 1,024.
async fn raise_own_descriptor_limit() {
    let pid = std::process::id();
    let output = tokio::process::Command::new("prlimit")
        .args([
            "--pid",
            &pid.to_string(),
            "--nofile",
            "--output=HARD",
            "--noheadings",
            "--raw",
        ])
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let hard = String::from_utf8(output.stdout).unwrap();
    let hard: u64 = match hard.trim() {
        "unlimited" => 1 << 20,
        number => number.parse().unwrap(),
    };
    assert!(
        hard >= 4 * CLIENTS as u64,
        "the tests need {} descriptors; the hard limit is {hard} (raise it with ulimit -Hn)",
        4 * CLIENTS
    );
    limit_descriptors(pid, hard, hard).await;
}

/// `serve` (the binary) with `args`, then limited to [`DESCRIPTORS`] descriptors.
async fn serve_with_few_descriptors(project: &Project, url: &str, args: &[&str]) -> Served {
    let mut argv = vec!["--no-backup"];
    argv.extend_from_slice(args);
    let served = serve::spawn(project, url, &argv, "info").await;
    let limit = u64::from(DESCRIPTORS);
    limit_descriptors(served.child.id().unwrap(), limit, limit).await;
    served
}

/// Opens [`CLIENTS`] connections, every second one sending half a request, and holds
/// them (a connection the server does not accept waits in its backlog).
async fn hold_slow_clients(address: SocketAddr) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(CLIENTS);
    for n in 0..CLIENTS {
        let connecting = tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(address));
        if let Ok(Ok(mut stream)) = connecting.await {
            if n % 2 == 1 {
                let _ = stream.write_all(HALF_A_REQUEST).await;
            }
            held.push(stream);
        }
    }
    held
}

/// Five probes of `/health/live`, each on a new connection, each answered 200 within a
/// second.
async fn probes_answer_within_a_second(address: SocketAddr) {
    for probe in 1..=5 {
        let started = Instant::now();
        let answer =
            tokio::time::timeout(Duration::from_secs(1), serve::get(address, "/health/live"))
                .await
                .unwrap_or_else(|_| {
                    panic!("probe {probe}: /health/live did not answer within a second")
                });
        assert_eq!(answer.0, 200, "probe {probe}: {answer:?}");
        assert!(started.elapsed() < Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Stops the server and returns its log.
async fn log_of(mut served: Served) -> Vec<String> {
    served.child.kill().await.unwrap();
    served.log.await.unwrap()
}

fn lines_with<'a>(log: &'a [String], text: &str) -> Vec<&'a String> {
    log.iter().filter(|line| line.contains(text)).collect()
}

#[tokio::test]
async fn with_1100_idle_and_slow_header_clients_and_1024_descriptors_live_answers_within_a_second()
{
    raise_own_descriptor_limit().await;
    let db = TestDb::new().await;
    let project = Project::with_tables(1, 1, 1);
    let served = serve_with_few_descriptors(&project, &db.url, &[]).await;

    let held = hold_slow_clients(served.address).await;
    probes_answer_within_a_second(served.address).await;
    drop(held);

    let log = log_of(served).await;
    assert!(
        lines_with(&log, "open files").is_empty(),
        "the default limit keeps the server below its descriptors: {log:#?}"
    );
    assert_eq!(
        lines_with(&log, "at the connection limit").len(),
        1,
        "the limit is logged once, not once per connection: {log:#?}"
    );
}

#[tokio::test]
async fn out_of_descriptors_the_server_sheds_idle_clients_and_does_not_log_every_second() {
    raise_own_descriptor_limit().await;
    let db = TestDb::new().await;
    let project = Project::with_tables(1, 1, 1);
    // A limit above the descriptors: accepting fails with EMFILE.
    let served =
        serve_with_few_descriptors(&project, &db.url, &["--max-connections", "4000"]).await;

    let held = hold_slow_clients(served.address).await;
    probes_answer_within_a_second(served.address).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    probes_answer_within_a_second(served.address).await;
    drop(held);

    let log = log_of(served).await;
    let complaints = lines_with(&log, "Too many open files");
    assert!(
        complaints.len() <= 1,
        "EMFILE is logged at most once a minute: {complaints:#?}"
    );
}

/// Reads from `stream` until `within` passes or the server closes it; the time it took,
/// `None` if still open.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut sink = [0_u8; 1024];
    let closing = async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return started.elapsed(),
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, closing).await.ok()
}

/// Sends a whole `GET path` and reads its answer, leaving the connection open.
async fn get_keeping_alive(stream: &mut TcpStream, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0_u8; 1024];
    while !answer.ends_with(b"}") {
        let n = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut chunk))
            .await
            .expect("an answer")
            .unwrap();
        assert!(n > 0, "closed before answering");
        answer.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8(answer).unwrap()
}

#[tokio::test]
async fn late_headers_and_idle_keep_alive_connections_are_closed_after_their_timeouts() {
    let db = TestDb::new().await;
    let project = Project::with_tables(1, 1, 1);
    let app = spawn_app(
        &project,
        &db.url,
        &["--header-read-timeout", "1s", "--keep-alive-timeout", "3s"],
    )
    .await;

    let mut silent = TcpStream::connect(app.address).await.unwrap();
    let mut slow = TcpStream::connect(app.address).await.unwrap();
    slow.write_all(HALF_A_REQUEST).await.unwrap();
    let mut kept = TcpStream::connect(app.address).await.unwrap();
    let answer = get_keeping_alive(&mut kept, "/health/live").await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");

    for (what, stream) in [("silent", &mut silent), ("half a request", &mut slow)] {
        let took = closed_within(stream, Duration::from_secs(3))
            .await
            .unwrap_or_else(|| {
                panic!("a {what} connection is closed after the header-read timeout")
            });
        assert!(took < Duration::from_millis(2500), "{what}: {took:?}");
    }
    // The kept connection outlived the header-read timeout: between requests the
    // keep-alive timeout applies.
    let again = get_keeping_alive(&mut kept, "/health/live").await;
    assert!(again.starts_with("HTTP/1.1 200 OK"), "{again}");
    let idle_since = Instant::now();
    let took = closed_within(&mut kept, Duration::from_secs(6))
        .await
        .expect("an idle keep-alive connection is closed after the keep-alive timeout");
    assert!(
        took >= Duration::from_millis(2500),
        "closed after {took:?}, before the keep-alive timeout"
    );
    assert!(idle_since.elapsed() < Duration::from_secs(6));
    app.stop().await;
}

#[tokio::test]
async fn a_request_with_content_length_and_transfer_encoding_is_refused_and_its_connection_closed()
{
    let db = TestDb::new().await;
    let project = Project::with_tables(1, 1, 1);
    let app = spawn_app(&project, &db.url, &[]).await;
    // The chunked body ends at once, so a server reading Transfer-Encoding sees a second
    // request (`GET /metrics`) that a proxy reading Content-Length took for the body.
    let body = "0\r\n\r\nGET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let length = format!("Content-Length: {}\r\n", body.len());
    let chunked = "Transfer-Encoding: chunked\r\n";
    for framing in [format!("{length}{chunked}"), format!("{chunked}{length}")] {
        let mut stream = TcpStream::connect(app.address).await.unwrap();
        let request =
            format!("GET /health/live HTTP/1.1\r\nHost: localhost\r\n{framing}\r\n{body}");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        tokio::time::timeout(Duration::from_secs(1), stream.read_to_string(&mut answer))
            .await
            .unwrap_or_else(|_| panic!("{framing:?}: the connection stays open"))
            .unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 400 Bad Request"),
            "{framing:?}: {answer}"
        );
        assert!(answer.contains("Transfer-Encoding"), "{answer}");
        assert_eq!(
            answer.matches("HTTP/1.1 ").count(),
            1,
            "{framing:?}: the smuggled request was answered: {answer}"
        );
    }
    // The server goes on answering.
    assert_eq!(app.get("/health/live").await.0, hyper::StatusCode::OK);
    app.stop().await;
}
