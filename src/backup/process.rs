//! The client programs a backup runs (`pg_dump`, `mariadb-dump`, their restores): an
//! environment cleaned of what must not reach them (their client's variables, the
//! database URL, the placeholders' values), their `--version`, and their stderr drained
//! while they run, so a child never blocks on a full pipe, keeping the tail for the error
//! message (ripgrep's `CommandError` carries stderr the same way).

use std::io::Write as _;
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use rustix::fs::{MemfdFlags, Mode};
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::process::Command;
use tokio::task::JoinHandle;

/// How long `--version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

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

/// Removes the inherited variables a child must not see or be steered by: its own client's
/// (`PG…` for pg_dump, `MYSQL…` for mariadb-dump), the database URL, and the placeholder
/// values, which may be secrets.
pub(crate) fn clean_environment(command: &mut Command, client_prefix: &str) {
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if name.starts_with(client_prefix)
            || name == "SCHEMAGATE_DATABASE_URL"
            || name == "DATABASE_URL"
            || name.starts_with(crate::catalogue::PLACEHOLDER_ENV_PREFIX)
        {
            command.env_remove(key);
        }
    }
}

/// `program --version`, trimmed, run in an environment cleaned of `client_prefix`'s
/// variables; a program that does not answer within ten seconds, or fails (killed, say),
/// is an error: an empty answer would be read as another flavour or major.
pub(crate) async fn program_version(path: &Path, client_prefix: &str) -> std::io::Result<String> {
    let mut command = Command::new(path);
    clean_environment(&mut command, client_prefix);
    let run = command
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(VERSION_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no answer to --version",
            ))
        })?;
    if !output.status.success() {
        return Err(std::io::Error::other(format!(
            "`--version` {}",
            describe(output.status)
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// An anonymous in-memory file named `name` holding `text`, mode 0600 (libpq ignores a
/// passfile, and the MariaDB client an option file, that group or others may read), without
/// close-on-exec so that a child inherits it: no crash can leave a secret on disk. Sealed
/// against becoming executable where the kernel knows that seal (Linux 6.3; a kernel with
/// `vm.memfd_noexec = 2` refuses a memfd without it).
pub(crate) fn secret_file(name: &str, text: &[u8]) -> std::io::Result<std::fs::File> {
    let fd = match rustix::fs::memfd_create(name, MemfdFlags::NOEXEC_SEAL) {
        Err(rustix::io::Errno::INVAL) => rustix::fs::memfd_create(name, MemfdFlags::empty()),
        created => created,
    }?;
    rustix::fs::fchmod(&fd, Mode::RUSR | Mode::WUSR)?;
    let mut file = std::fs::File::from(fd);
    file.write_all(text)?;
    Ok(file)
}

/// The path a process (this one, or a child that inherited the descriptor) opens `file` at.
pub(crate) fn inherited_path(file: &std::fs::File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    /// A client killed while it answers `--version` (as a test that kills "the client"
    /// may) must not pass for one of no known flavour.
    #[tokio::test]
    async fn a_version_probe_that_is_killed_is_an_error_and_an_answer_is_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let killed = dir.path().join("killed");
        std::fs::write(&killed, "#!/bin/sh\nkill -9 $$\n").unwrap();
        let answers = dir.path().join("answers");
        std::fs::write(&answers, "#!/bin/sh\necho ' client 1.0 '\n").unwrap();
        for script in [&killed, &answers] {
            std::fs::set_permissions(script, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let error = program_version(&killed, "PG").await.unwrap_err();
        assert!(error.to_string().contains("signal: 9"), "{error}");
        assert_eq!(program_version(&answers, "PG").await.unwrap(), "client 1.0");
    }
}
