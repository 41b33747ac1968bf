//! The bounds `serve` puts on its clients: a header-read timeout, a keep-alive timeout and
//! a connection limit. Without them a client that sends half a request, or none, holds a
//! descriptor for ever, and 1,100 such clients exhaust a 1,024-descriptor process: the
//! liveness probe stops answering and Kubernetes restarts a healthy gate.

use std::time::Duration;

/// How the standalone server bounds slow, idle and numerous clients (`serve`'s
/// `--header-read-timeout`, `--keep-alive-timeout`, `--max-connections`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A request's headers must all arrive within this long: of the connection opening
    /// for its first request, of their first byte for the next ones. Default 5 s, as a
    /// probe's own timeout is 1 s and a scrape's 10 s.
    pub header_read_timeout: Duration,
    /// A keep-alive connection that starts no request for this long is closed. Default
    /// 75 s (nginx's), above the 60 s idle timeout of common load balancers so that they,
    /// not this server, close a connection they keep.
    pub keep_alive_timeout: Duration,
    /// At most this many open connections; a new one beyond it closes the one idle
    /// longest, so a probe always gets through. Default 512 (nginx's `worker_connections`),
    /// half the 1,024 descriptors a process is commonly allowed.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(5),
            keep_alive_timeout: Duration::from_secs(75),
            max_connections: 512,
        }
    }
}

impl ConnectionLimits {
    /// Refuses a zero: a zero timeout would close every connection before its request,
    /// a zero limit would refuse every connection.
    pub fn check(&self) -> Result<(), ZeroLimit> {
        let zero = if self.header_read_timeout.is_zero() {
            "--header-read-timeout"
        } else if self.keep_alive_timeout.is_zero() {
            "--keep-alive-timeout"
        } else if self.max_connections == 0 {
            "--max-connections"
        } else {
            return Ok(());
        };
        Err(ZeroLimit { setting: zero })
    }
}

/// A connection limit of zero (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{setting} must be above 0")]
pub struct ZeroLimit {
    /// The flag of the setting.
    pub setting: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_pass_and_a_zero_names_its_flag() {
        assert!(ConnectionLimits::default().check().is_ok());
        let zero = ConnectionLimits {
            keep_alive_timeout: Duration::ZERO,
            ..ConnectionLimits::default()
        };
        assert_eq!(
            zero.check().unwrap_err().to_string(),
            "--keep-alive-timeout must be above 0"
        );
        let none = ConnectionLimits {
            max_connections: 0,
            ..ConnectionLimits::default()
        };
        assert_eq!(none.check().unwrap_err().setting, "--max-connections");
    }
}
