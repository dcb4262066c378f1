//! Reading the files of a study folder safely: only regular files, and never more bytes
//! than a bound. A named pipe, a device, a socket or a directory where a file is expected
//! (or a symbolic link to one, such as `/dev/zero`) is refused without blocking, whatever
//! size its metadata reports; a file that grows while it is read is cut at the bound.

use std::io::Read;
use std::path::Path;

/// Why a file could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// There is nothing at the path.
    Missing,
    /// Something other than a regular file is there (what it is, in words).
    NotRegular(&'static str),
    /// The file holds more than the bound (in bytes).
    TooLarge(u64),
    /// Another error of the file system.
    Io(std::io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Missing => f.write_str("it does not exist"),
            ReadError::NotRegular(what) => write!(f, "it is {what}, not a regular file"),
            ReadError::TooLarge(max) => write!(f, "it is larger than {} bytes", crate::limits::group(*max)),
            ReadError::Io(e) => f.write_str(&super::plain(e)),
        }
    }
}

/// What a file's type is, in words, if it is not a regular file.
fn kind_of(meta: &std::fs::Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    if t.is_file() {
        return None;
    }
    if t.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Some("a named pipe");
        }
        if t.is_char_device() || t.is_block_device() {
            return Some("a device");
        }
        if t.is_socket() {
            return Some("a socket");
        }
    }
    Some("not a regular file")
}

/// The whole of the regular file at `path`, at most `max` bytes.
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // opening a named pipe for reading would wait for a writer; non-blocking it does not
        opts.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = match opts.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ReadError::Missing),
        Err(e) => return Err(ReadError::Io(e)),
    };
    // the type of what was opened, not of the path (which may have changed since)
    let meta = file.metadata().map_err(ReadError::Io)?;
    if let Some(what) = kind_of(&meta) {
        return Err(ReadError::NotRegular(what));
    }
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1)).read_to_end(&mut bytes).map_err(ReadError::Io)?;
    if bytes.len() as u64 > max {
        return Err(ReadError::TooLarge(max));
    }
    Ok(bytes)
}

/// What is at `path` if it is there and not a regular file (without following a symlink's
/// target's contents: a link to a device is a device).
pub fn not_regular(path: &Path) -> Option<&'static str> {
    std::fs::metadata(path).ok().and_then(|m| kind_of(&m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_are_read_and_only_up_to_the_bound() {
        let d = std::env::temp_dir().join(format!("optlab-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("dir")).unwrap();
        std::fs::write(d.join("f"), b"hello").unwrap();
        assert_eq!(read_bounded(&d.join("f"), 5).unwrap(), b"hello");
        assert!(matches!(read_bounded(&d.join("f"), 4), Err(ReadError::TooLarge(4))));
        assert!(matches!(read_bounded(&d.join("none"), 4), Err(ReadError::Missing)));
        assert!(matches!(read_bounded(&d.join("dir"), 4), Err(ReadError::NotRegular("a directory"))));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/dev/zero", d.join("zero")).unwrap();
            assert!(matches!(read_bounded(&d.join("zero"), 4), Err(ReadError::NotRegular("a device"))));
            let fifo = std::ffi::CString::new(d.join("fifo").to_str().unwrap()).unwrap();
            // SAFETY: mkfifo with a valid C string
            assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
            assert!(matches!(read_bounded(&d.join("fifo"), 4), Err(ReadError::NotRegular("a named pipe"))));
        }
        let _ = std::fs::remove_dir_all(&d);
    }
}
