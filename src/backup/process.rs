//! Draining a child's stderr while it runs, so it never blocks on a full pipe, keeping the
//! tail for the error message (ripgrep's `CommandError` carries stderr the same way).

use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::task::JoinHandle;

/// How much of a child's stderr we keep: the end, where the reason is.
const KEEP: usize = 8 * 1024;

/// A task collecting the tail of a stream.
pub(crate) struct Tail(JoinHandle<Vec<u8>>);

impl Tail {
    /// Starts draining `stream` (nothing when the child has no such pipe).
    pub(crate) fn spawn(stream: Option<impl AsyncRead + Unpin + Send + 'static>) -> Self {
        Self(tokio::spawn(async move {
            let mut kept = Vec::new();
            let Some(mut stream) = stream else {
                return kept;
            };
            let mut buf = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                kept.extend_from_slice(&buf[..n]);
                if kept.len() > 2 * KEEP {
                    kept.drain(..kept.len() - KEEP);
                }
            }
            kept
        }))
    }

    /// What was collected, trimmed, on one line; `(empty)` when nothing.
    pub(crate) async fn text(self) -> String {
        let bytes = self.0.await.unwrap_or_default();
        let start = bytes.len().saturating_sub(KEEP);
        let text = String::from_utf8_lossy(&bytes[start..]);
        let text = text.trim().replace('\n', " | ");
        if text.is_empty() {
            "(empty)".to_owned()
        } else {
            text
        }
    }
}

/// An exit status in words: `exit status 1`, `signal 9 (SIGKILL)`.
pub(crate) fn describe(status: std::process::ExitStatus) -> String {
    status.to_string()
}
