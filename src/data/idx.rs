//! The IDX format of MNIST-style files, gzipped or raw (detected by the gzip magic).
//!
//! Validated on read: magic number (0x00 0x00, type 0x08 = u8, the expected number of
//! dimensions), dimensions, exact file length, and (for labels) the label range. A bogus
//! header never causes a large allocation: the body is read through a limit of the size
//! the header announces, and only as far as the file really goes.

use flate2::read::GzDecoder;
use std::io::Read;
use std::path::Path;

/// The largest body optlab accepts (the full MNIST training images are 47 MB).
const MAX_BODY: u64 = 1 << 31;

/// An IDX array of u8 with its dimensions.
#[derive(Clone, Debug, PartialEq)]
pub struct Idx {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// What is wrong with a file, said in one line that names the file.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {what}")]
pub struct IdxError {
    pub file: String,
    pub what: String,
}

fn fail(file: &str, what: impl Into<String>) -> IdxError {
    IdxError { file: file.to_string(), what: what.into() }
}

/// Parses IDX bytes (gzipped or raw) expecting `ndims` dimensions. `name` is used in errors.
pub fn parse(bytes: &[u8], ndims: usize, name: &str) -> Result<Idx, IdxError> {
    if bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b {
        read_from(GzDecoder::new(bytes), ndims, name, true)
    } else {
        read_from(bytes, ndims, name, false)
    }
}

/// Reads and parses an IDX file.
pub fn read_file(path: &Path, ndims: usize) -> Result<Idx, IdxError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| fail(&name, format!("cannot read: {e}")))?;
    parse(&bytes, ndims, &name)
}

fn read_from<R: Read>(mut r: R, ndims: usize, name: &str, gz: bool) -> Result<Idx, IdxError> {
    let io = |e: std::io::Error| fail(name, if gz { format!("not a valid gzip file ({e})") } else { e.to_string() });
    let mut head = [0u8; 4];
    read_exact_or(&mut r, &mut head).map_err(|e| match e {
        Some(e) => io(e),
        None => fail(name, "the file is shorter than an IDX header (4 bytes)"),
    })?;
    if head[0] != 0 || head[1] != 0 {
        return Err(fail(
            name,
            format!("not an IDX file (magic bytes {:02x} {:02x}, expected 00 00)", head[0], head[1]),
        ));
    }
    if head[2] != 0x08 {
        return Err(fail(name, format!("IDX element type 0x{:02x} is not unsigned bytes (0x08)", head[2])));
    }
    if head[3] as usize != ndims {
        let what = if ndims == 3 { "images" } else { "labels" };
        return Err(fail(name, format!("has {} dimensions, but {what} need {ndims} (is it the wrong file?)", head[3])));
    }
    let mut dims = Vec::with_capacity(ndims);
    for _ in 0..ndims {
        let mut d = [0u8; 4];
        read_exact_or(&mut r, &mut d).map_err(|e| match e {
            Some(e) => io(e),
            None => fail(name, "truncated inside the header"),
        })?;
        dims.push(u32::from_be_bytes(d) as usize);
    }
    let total = match dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d as u64)) {
        Some(t) if t <= MAX_BODY => t,
        t => {
            let shown = t.map_or_else(|| "more than 2^64".to_string(), crate::limits::group);
            return Err(fail(
                name,
                format!(
                    "header announces {dims:?} = {shown} bytes, more than optlab accepts ({})",
                    crate::limits::group(MAX_BODY)
                ),
            ));
        }
    };
    let mut data = Vec::new();
    r.by_ref().take(total + 1).read_to_end(&mut data).map_err(io)?;
    if (data.len() as u64) < total {
        return Err(fail(
            name,
            format!("truncated: the header says {dims:?} ({total} bytes of data) but the file holds {}", data.len()),
        ));
    }
    if data.len() as u64 > total {
        return Err(fail(name, format!("has data beyond the {total} bytes its header {dims:?} announces")));
    }
    Ok(Idx { dims, data })
}

/// `read_exact`, telling a clean end of file (None) from an I/O error.
fn read_exact_or<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<(), Option<std::io::Error>> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => return Err(None),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Some(e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(ndims: u8, dims: &[u32], body: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 8, ndims];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn reads_raw_and_gzipped() {
        let raw = idx(1, &[3], &[1, 2, 3]);
        assert_eq!(parse(&raw, 1, "x").unwrap().data, vec![1, 2, 3]);
        let mut gz = Vec::new();
        {
            let mut e = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::fast());
            std::io::Write::write_all(&mut e, &raw).unwrap();
            e.finish().unwrap();
        }
        assert_eq!(parse(&gz, 1, "x").unwrap().dims, vec![3]);
    }

    #[test]
    fn malformed_files_give_one_line_errors() {
        let e = |b: &[u8], n| parse(b, n, "f.idx").unwrap_err().to_string();
        assert!(e(&idx(1, &[5], &[1, 2]), 1).contains("truncated: the header says [5]"));
        assert!(e(&idx(1, &[1], &[1, 2]), 1).contains("data beyond"));
        assert!(e(&[1, 2, 3, 4, 5], 1).contains("not an IDX file"));
        assert!(e(&[0, 0], 1).contains("shorter than an IDX header"));
        assert!(e(&idx(3, &[1, 2, 2], &[0; 4]), 1).contains("has 3 dimensions, but labels need 1"));
        assert!(e(&[0, 0, 0x0d, 1, 0, 0, 0, 0], 1).contains("not unsigned bytes"));
        // a huge header on a tiny file: an error, not a huge allocation
        assert!(e(&idx(3, &[60000, 60000, 60000], &[0; 10]), 3).contains("more than optlab accepts"));
        assert!(e(&idx(3, &[60000, 28, 28], &[0; 10]), 3).contains("truncated"));
        assert!(
            e(&[0x1f, 0x8b, 1, 2, 3], 1).contains("not a valid gzip file")
                || e(&[0x1f, 0x8b, 1, 2, 3], 1).contains("shorter")
        );
        assert!(e(&idx(1, &[5], &[1, 2]), 1).starts_with("f.idx: "));
    }
}
