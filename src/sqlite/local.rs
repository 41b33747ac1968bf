//! Refusing a database on a network file system (DESIGN §17): there, `flock` and SQLite's
//! own POSIX locks may be emulated per client or not at all, so two writers on two hosts
//! both "hold" the lock and corrupt the file. SQLite's FAQ says the same
//! (<https://www.sqlite.org/faq.html#q5>).
//!
//! Detected on Linux by the file system's magic number (`statfs(2)`, `f_type`) of the
//! directory that holds the database. FUSE mounts (sshfs, and local ones too) cannot be
//! told apart and are let through; other systems are not checked. docs/engines.md says so.

use std::path::{Path, PathBuf};

use super::error::SqliteError;

/// The magic numbers of network file systems (`linux/magic.h`, `fs/smb/client`, …) and
/// the name each is reported under.
#[cfg(target_os = "linux")]
const NETWORK: &[(u32, &str)] = &[
    (0x6969, "NFS"),
    (0x517B, "SMB"),
    (0xFF53_4D42, "SMB/CIFS"),
    (0xFE53_4D42, "SMB2"),
    (0x5346_414F, "AFS"),
    (0x6B41_4653, "AFS"),
    (0x7375_7245, "Coda"),
    (0x00C3_6400, "CephFS"),
    (0x0102_1997, "9P"),
    (0x0BD0_0BD0, "Lustre"),
    (0x0116_1970, "GFS2"),
    (0x7461_636F, "OCFS2"),
];

/// The directory the database file is (or will be) in.
pub(crate) fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Refuses a database whose directory is on a network file system. A directory that
/// cannot be examined (it does not exist yet) is left to the open, which names it.
pub(crate) fn refuse_network(path: &Path) -> Result<(), SqliteError> {
    match network_kind(&directory_of(path)) {
        Some(kind) => Err(SqliteError::NetworkFileSystem {
            path: path.to_owned(),
            kind,
        }),
        None => Ok(()),
    }
}

/// The kind of network file system `dir` is on, if it is one.
#[cfg(target_os = "linux")]
fn network_kind(dir: &Path) -> Option<&'static str> {
    let stat = rustix::fs::statfs(dir).ok()?;
    let magic = i128::from(stat.f_type) & 0xFFFF_FFFF;
    NETWORK
        .iter()
        .find(|(number, _)| i128::from(*number) == magic)
        .map(|(_, kind)| *kind)
}

#[cfg(not(target_os = "linux"))]
fn network_kind(_dir: &Path) -> Option<&'static str> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_directory_is_accepted_and_a_bare_name_is_in_the_working_directory() {
        let dir = tempfile::tempdir().unwrap();
        refuse_network(&dir.path().join("app.db")).unwrap();
        assert_eq!(directory_of(Path::new("app.db")), Path::new("."));
        assert_eq!(directory_of(Path::new("/a/b.db")), Path::new("/a"));
    }
}
