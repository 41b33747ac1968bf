//! Files a user names (`restore FILE` and its manifest, `--compat FILE`), read only when
//! they are what a reader can use: a regular file (opening a FIFO waits for a writer that
//! may never come; a device such as `/dev/zero` never ends) and, when read whole into
//! memory, no larger than the reader's limit. Symbolic links are followed: what counts is
//! the file they lead to.
//!
//! The type is checked on the path before opening (opening a FIFO blocks) and again on the
//! file opened, which is the one read.

use std::fs::{File, Metadata};
use std::io::Read as _;
use std::os::unix::fs::FileTypeExt as _;
use std::path::{Path, PathBuf};

/// A named file that cannot be read as asked.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Not a regular file.
    #[error("{} is {kind}, not a regular file; give the path of a file", path.display())]
    NotRegular {
        /// The path as given.
        path: PathBuf,
        /// What it is instead: `a FIFO (named pipe)`, `a character device`, ….
        kind: &'static str,
    },
    /// Larger than its reader holds.
    #[error("{} is {size} bytes, more than the {limit} bytes such a file may have", path.display())]
    TooLarge {
        /// The path as given.
        path: PathBuf,
        /// Its size (at least; it may have grown while read).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The file system refused.
    #[error("cannot read {}", path.display())]
    Io {
        /// The path as given.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl InputError {
    /// Whether the file is missing (as opposed to there but unusable).
    pub fn is_not_found(&self) -> bool {
        matches!(self, InputError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }

    /// Whether the file is there but of the wrong kind or size: the user named the wrong
    /// thing (a usage error), rather than the file system failing.
    pub fn is_unusable(&self) -> bool {
        !matches!(self, InputError::Io { .. })
    }
}

/// For readers whose errors carry an [`std::io::Error`]: a file system error stays itself;
/// a wrong kind or size becomes `InvalidInput` with this message.
impl From<InputError> for std::io::Error {
    fn from(error: InputError) -> Self {
        match error {
            InputError::Io { source, .. } => source,
            unusable => std::io::Error::new(std::io::ErrorKind::InvalidInput, unusable),
        }
    }
}

/// Opens `path` if it is a regular file; returns it with its length.
pub(crate) fn open_regular(path: &Path) -> Result<(File, u64), InputError> {
    let io = |source| InputError::Io {
        path: path.to_owned(),
        source,
    };
    regular(path, &std::fs::metadata(path).map_err(io)?)?;
    let file = File::open(path).map_err(io)?;
    let metadata = file.metadata().map_err(io)?;
    regular(path, &metadata)?;
    Ok((file, metadata.len()))
}

/// Reads `path` whole if it is a regular file of at most `limit` bytes.
pub(crate) fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
    let (file, size) = open_regular(path)?;
    let too_large = |size| InputError::TooLarge {
        path: path.to_owned(),
        size,
        limit,
    };
    if size > limit {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or_default());
    // One byte more than the limit tells a file that grew while it was read.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| InputError::Io {
            path: path.to_owned(),
            source,
        })?;
    let read = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if read > limit {
        return Err(too_large(read));
    }
    Ok(bytes)
}

/// Reads `path` whole as UTF-8 if it is a regular file of at most `limit` bytes.
pub(crate) fn read_to_string(path: &Path, limit: u64) -> Result<String, InputError> {
    String::from_utf8(read_regular(path, limit)?).map_err(|e| InputError::Io {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()),
    })
}

/// Refuses anything but a regular file, naming what it is.
fn regular(path: &Path, metadata: &Metadata) -> Result<(), InputError> {
    let kind = metadata.file_type();
    let name = if kind.is_file() {
        return Ok(());
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a file"
    };
    Err(InputError::NotRegular {
        path: path.to_owned(),
        kind: name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "twelve bytes").unwrap();
        assert_eq!(read_to_string(&file, 12).unwrap(), "twelve bytes");
        let large = read_to_string(&file, 11).unwrap_err();
        assert!(
            large.to_string().contains("12 bytes, more than the 11"),
            "{large}"
        );
        let link = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let device = read_regular(&link, 1 << 20).unwrap_err();
        assert!(device.is_unusable());
        assert!(
            device.to_string().contains("is a character device"),
            "{device}"
        );
        let directory = read_regular(dir.path(), 1 << 20).unwrap_err();
        assert!(
            directory.to_string().contains("is a directory"),
            "{directory}"
        );
        let missing = read_regular(&dir.path().join("none"), 1).unwrap_err();
        assert!(missing.is_not_found() && !missing.is_unusable());
    }
}
