//! A bare warp server answering "hello" on every GET, the baseline of the HTTP rows of
//! bench/run.sh. Usage: `warp-hello 127.0.0.1:PORT`.

use std::net::SocketAddr;

use warp::Filter;

#[tokio::main]
async fn main() {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3030".to_owned())
        .parse()
        .expect("usage: warp-hello ADDR:PORT");
    let routes = warp::get().map(|| "hello");
    let (_, server) = warp::serve(routes).bind_with_graceful_shutdown(addr, async {
        let _ = tokio::signal::ctrl_c().await;
    });
    server.await;
}
