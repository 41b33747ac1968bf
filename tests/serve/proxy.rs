//! A TCP proxy in front of PostgreSQL that a test can switch off (every open connection is
//! closed, new ones are refused: the port is closed) and back on, on the same port.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Mutex;
use tokio::task::{JoinHandle, JoinSet};

/// The proxy; dropping it closes everything.
pub struct Proxy {
    /// Where clients connect.
    pub address: SocketAddr,
    target: SocketAddr,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Proxy {
    /// Starts forwarding a free local port to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = listen("127.0.0.1:0".parse().unwrap());
        let address = listener.local_addr().unwrap();
        Self {
            address,
            target,
            task: Mutex::new(Some(tokio::spawn(forward(listener, target)))),
        }
    }

    /// Closes every connection and the port.
    pub async fn switch_off(&self) {
        if let Some(task) = self.task.lock().await.take() {
            // Aborting drops the listener and the JoinSet, which aborts every connection.
            task.abort();
            let _ = task.await;
        }
    }

    /// Opens the port again.
    pub async fn switch_on(&self) {
        let mut task = self.task.lock().await;
        if task.is_none() {
            *task = Some(tokio::spawn(forward(listen(self.address), self.target)));
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(task) = self.task.get_mut().take() {
            task.abort();
        }
    }
}

fn listen(address: SocketAddr) -> TcpListener {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind(address).unwrap();
    socket.listen(128).unwrap()
}

async fn forward(listener: TcpListener, target: SocketAddr) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            continue;
        };
        while connections.try_join_next().is_some() {}
        connections.spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(target).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}
