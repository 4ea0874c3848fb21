//! A minimal reader of NumPy `.npy` arrays and `.npz` archives.
//!
//! Format (see `datasets/SOURCES.md`, section "Common format", and the NumPy format
//! specification `numpy/lib/format.py`): an `.npy` file starts with the magic
//! `\x93NUMPY`, a major and a minor version byte, the header length (little-endian `u16`
//! for version 1.0, `u32` for versions 2.0 and 3.0), then an ASCII Python-dict header
//! such as `{'descr': '<i4', 'fortran_order': False, 'shape': (5429,), }` padded with
//! spaces and ending in `\n`; the raw array data follow immediately, in C order.
//! An `.npz` file is a ZIP archive whose members `<name>.npy` each hold one array.
//!
//! Supported dtypes: `<f4`, `<i4`, `<i8`, `|i1`, `|u1`, `|b1` (booleans, one byte 0 or 1)
//! and `<Un` (fixed-width Unicode strings: `n` little-endian UTF-32 code units per
//! element, right-padded with zero units, which are stripped). `|b1` is not listed in
//! `SOURCES.md` but 10 of the 30 WebKB split archives use it for their masks. Fortran-ordered and object (pickled) arrays are rejected.
//! The files that use this reader (Cora and CiteSeer from shchur/gnn-benchmark, the
//! WebKB splits from graphdml-uiuc-jlu/geom-gcn) are described in `SOURCES.md`.
//!
//! Every error names the file, and for archive members the member, as
//! `archive.npz:member.npy`. No input can make the reader panic or overflow.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use crate::error::DataError;

/// The `.npy` magic string.
const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Largest header accepted (NumPy itself refuses headers over 10,000 bytes by default).
const MAX_HEADER_LEN: usize = 1 << 20;

/// One array read from an `.npy` file or `.npz` member.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// Dimensions, outermost first; empty for a scalar (0-d) array.
    pub shape: Vec<usize>,
    /// The elements in C (row-major) order; `data` holds `shape.iter().product()` elements.
    pub data: NpyData,
}

/// The typed elements of an [`NpyArray`].
#[derive(Debug, Clone, PartialEq)]
pub enum NpyData {
    /// `<f4`: little-endian 32-bit floats.
    F32(Vec<f32>),
    /// `<i4`: little-endian 32-bit signed integers.
    I32(Vec<i32>),
    /// `<i8`: little-endian 64-bit signed integers.
    I64(Vec<i64>),
    /// `|i1`: 8-bit signed integers.
    I8(Vec<i8>),
    /// `|u1`: 8-bit unsigned integers.
    U8(Vec<u8>),
    /// `|b1`: booleans, one byte each (0 or 1).
    Bool(Vec<bool>),
    /// `<Un`: fixed-width Unicode strings, trailing zero code units stripped.
    Str(Vec<String>),
}

impl NpyData {
    /// The NumPy dtype code of these elements (`<Un` is reported as `<U`).
    pub fn dtype_name(&self) -> &'static str {
        match self {
            NpyData::F32(_) => "<f4 (f32)",
            NpyData::I32(_) => "<i4 (i32)",
            NpyData::I64(_) => "<i8 (i64)",
            NpyData::I8(_) => "|i1 (i8)",
            NpyData::U8(_) => "|u1 (u8)",
            NpyData::Bool(_) => "|b1 (bool)",
            NpyData::Str(_) => "<U (string)",
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            NpyData::F32(v) => v.len(),
            NpyData::I32(v) => v.len(),
            NpyData::I64(v) => v.len(),
            NpyData::I8(v) => v.len(),
            NpyData::U8(v) => v.len(),
            NpyData::Bool(v) => v.len(),
            NpyData::Str(v) => v.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl NpyArray {
    /// Number of elements (the product of the shape; 1 for a 0-d array).
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn mismatch(&self, origin: &Path, wanted: &str) -> DataError {
        DataError::parse(
            origin,
            format!(
                "expected dtype {wanted}, found {} with shape {:?}",
                self.data.dtype_name(),
                self.shape
            ),
        )
    }

    /// The elements as `f32`; an error naming `origin` if the dtype is not `<f4`.
    pub fn as_f32(&self, origin: &Path) -> Result<&[f32], DataError> {
        match &self.data {
            NpyData::F32(v) => Ok(v),
            _ => Err(self.mismatch(origin, "<f4 (f32)")),
        }
    }

    /// The elements as `i32`; an error naming `origin` if the dtype is not `<i4`.
    pub fn as_i32(&self, origin: &Path) -> Result<&[i32], DataError> {
        match &self.data {
            NpyData::I32(v) => Ok(v),
            _ => Err(self.mismatch(origin, "<i4 (i32)")),
        }
    }

    /// The elements as `i64`; an error naming `origin` if the dtype is not `<i8`.
    pub fn as_i64(&self, origin: &Path) -> Result<&[i64], DataError> {
        match &self.data {
            NpyData::I64(v) => Ok(v),
            _ => Err(self.mismatch(origin, "<i8 (i64)")),
        }
    }

    /// The elements as `i8`; an error naming `origin` if the dtype is not `|i1`.
    pub fn as_i8(&self, origin: &Path) -> Result<&[i8], DataError> {
        match &self.data {
            NpyData::I8(v) => Ok(v),
            _ => Err(self.mismatch(origin, "|i1 (i8)")),
        }
    }

    /// The elements as `u8`; an error naming `origin` if the dtype is not `|u1`.
    pub fn as_u8(&self, origin: &Path) -> Result<&[u8], DataError> {
        match &self.data {
            NpyData::U8(v) => Ok(v),
            _ => Err(self.mismatch(origin, "|u1 (u8)")),
        }
    }

    /// The elements as booleans; an error naming `origin` if the dtype is not `|b1`.
    pub fn as_bool(&self, origin: &Path) -> Result<&[bool], DataError> {
        match &self.data {
            NpyData::Bool(v) => Ok(v),
            _ => Err(self.mismatch(origin, "|b1 (bool)")),
        }
    }

    /// The elements as strings; an error naming `origin` if the dtype is not `<Un`.
    pub fn as_strings(&self, origin: &Path) -> Result<&[String], DataError> {
        match &self.data {
            NpyData::Str(v) => Ok(v),
            _ => Err(self.mismatch(origin, "<Un (string)")),
        }
    }

    /// The elements of any integer dtype (`<i4`, `<i8`, `|i1`, `|u1`) widened to `i64`;
    /// an error naming `origin` for float and string arrays.
    pub fn to_i64_vec(&self, origin: &Path) -> Result<Vec<i64>, DataError> {
        Ok(match &self.data {
            NpyData::I32(v) => v.iter().map(|&x| i64::from(x)).collect(),
            NpyData::I64(v) => v.clone(),
            NpyData::I8(v) => v.iter().map(|&x| i64::from(x)).collect(),
            NpyData::U8(v) => v.iter().map(|&x| i64::from(x)).collect(),
            _ => return Err(self.mismatch(origin, "an integer type (<i4, <i8, |i1, |u1)")),
        })
    }

    /// The length of a 1-d array; an error naming `origin` for any other shape.
    pub fn vector_len(&self, origin: &Path) -> Result<usize, DataError> {
        match self.shape.as_slice() {
            [n] => Ok(*n),
            other => Err(DataError::parse(
                origin,
                format!("expected a 1-d array, found shape {other:?}"),
            )),
        }
    }
}

/// The path used in messages about member `name` (without `.npy`) of `archive`:
/// `archive.npz:name.npy`.
pub fn member_path(archive: &Path, name: &str) -> PathBuf {
    PathBuf::from(format!("{}:{name}.npy", archive.display()))
}

/// The array `name` (without `.npy`) of an archive read by [`parse_npz`]; an error naming
/// the archive and listing its members when it is absent.
pub fn npz_member<'a>(
    npz: &'a BTreeMap<String, NpyArray>,
    name: &str,
    archive: &Path,
) -> Result<&'a NpyArray, DataError> {
    npz.get(name).ok_or_else(|| {
        DataError::parse(
            archive,
            format!(
                "archive has no member `{name}.npy` (members: {})",
                if npz.is_empty() {
                    "none".to_owned()
                } else {
                    npz.keys()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
        )
    })
}

/// Element type decoded from a `descr` string.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Dtype {
    F32,
    I32,
    I64,
    I8,
    U8,
    Bool,
    /// Unicode string of this many UTF-32 code units.
    Str(usize),
}

impl Dtype {
    fn parse(descr: &str) -> Option<Dtype> {
        Some(match descr {
            "<f4" => Dtype::F32,
            "<i4" => Dtype::I32,
            "<i8" => Dtype::I64,
            "|i1" => Dtype::I8,
            "|u1" => Dtype::U8,
            "|b1" => Dtype::Bool,
            _ => {
                let n = descr.strip_prefix("<U")?;
                if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                // `<U0` is refused: zero-width elements would let a tiny file announce
                // an unbounded number of elements.
                match n.parse().ok()? {
                    0 => return None,
                    n => Dtype::Str(n),
                }
            }
        })
    }

    /// Bytes per element, or `None` on overflow.
    fn itemsize(self) -> Option<usize> {
        match self {
            Dtype::F32 | Dtype::I32 => Some(4),
            Dtype::I64 => Some(8),
            Dtype::I8 | Dtype::U8 | Dtype::Bool => Some(1),
            Dtype::Str(n) => n.checked_mul(4),
        }
    }
}

/// A value of the Python-literal header dict.
#[derive(Debug, PartialEq)]
enum PyValue {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
}

/// Cursor over the header text.
struct HeaderLexer<'a> {
    s: &'a [u8],
    pos: usize,
}

impl HeaderLexer<'_> {
    fn skip_ws(&mut self) {
        while self
            .s
            .get(self.pos)
            .is_some_and(|b| b.is_ascii_whitespace())
        {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.pos).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        match self.peek() {
            Some(b) if b == c => {
                self.pos += 1;
                Ok(())
            }
            Some(b) => Err(format!(
                "expected `{}` at header byte {}, found `{}`",
                c as char, self.pos, b as char
            )),
            None => Err(format!(
                "expected `{}`, found the end of the header",
                c as char
            )),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let quote = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => {
                return Err(format!(
                    "expected a quoted string at header byte {}",
                    self.pos
                ));
            }
        };
        self.pos += 1;
        let start = self.pos;
        while let Some(&b) = self.s.get(self.pos) {
            if b == b'\\' {
                return Err("escape sequences are not supported in the header".to_owned());
            }
            if b == quote {
                let text = self.s.get(start..self.pos).unwrap_or_default();
                self.pos += 1;
                return String::from_utf8(text.to_vec())
                    .map_err(|_| "header string is not valid UTF-8".to_owned());
            }
            self.pos += 1;
        }
        Err("unterminated string in the header".to_owned())
    }

    fn word(&mut self) -> &[u8] {
        self.skip_ws();
        let start = self.pos;
        while self
            .s
            .get(self.pos)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            self.pos += 1;
        }
        self.s.get(start..self.pos).unwrap_or_default()
    }

    fn tuple(&mut self) -> Result<Vec<usize>, String> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        loop {
            if self.peek() == Some(b')') {
                self.pos += 1;
                return Ok(dims);
            }
            let w = self.word();
            if w.is_empty() || !w.iter().all(u8::is_ascii_digit) {
                return Err(format!(
                    "shape must be a tuple of non-negative integers (at header byte {})",
                    self.pos
                ));
            }
            // All digits, so only overflow can fail.
            let text = String::from_utf8_lossy(w);
            let d: usize = text
                .parse()
                .map_err(|_| format!("shape dimension {text} is too large"))?;
            dims.push(d);
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b')') => {}
                _ => return Err(format!("malformed shape tuple at header byte {}", self.pos)),
            }
        }
    }

    fn value(&mut self) -> Result<PyValue, String> {
        match self.peek() {
            Some(b'\'' | b'"') => Ok(PyValue::Str(self.string()?)),
            Some(b'(') => Ok(PyValue::Tuple(self.tuple()?)),
            _ => {
                let at = self.pos;
                match self.word() {
                    b"True" => Ok(PyValue::Bool(true)),
                    b"False" => Ok(PyValue::Bool(false)),
                    w => Err(format!(
                        "unsupported header value `{}` at byte {at}",
                        String::from_utf8_lossy(w)
                    )),
                }
            }
        }
    }
}

/// Parses the header dict into (dtype, fortran_order, shape).
fn parse_header(text: &[u8]) -> Result<(String, bool, Vec<usize>), String> {
    let mut lx = HeaderLexer { s: text, pos: 0 };
    lx.expect(b'{')?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        if lx.peek() == Some(b'}') {
            lx.pos += 1;
            break;
        }
        let key = lx.string()?;
        if !matches!(key.as_str(), "descr" | "fortran_order" | "shape") {
            return Err(format!("unexpected header key `{key}`"));
        }
        lx.expect(b':')?;
        let value = lx.value()?;
        let slot_taken = match (key.as_str(), value) {
            ("descr", PyValue::Str(s)) => descr.replace(s).is_some(),
            ("fortran_order", PyValue::Bool(b)) => fortran.replace(b).is_some(),
            ("shape", PyValue::Tuple(t)) => shape.replace(t).is_some(),
            ("descr" | "fortran_order" | "shape", v) => {
                return Err(format!(
                    "header key `{key}` has a value of the wrong type: {v:?}"
                ));
            }
            _ => return Err(format!("unexpected header key `{key}`")),
        };
        if slot_taken {
            return Err(format!("header key `{key}` appears twice"));
        }
        match lx.peek() {
            Some(b',') => lx.pos += 1,
            Some(b'}') => {}
            _ => return Err(format!("expected `,` or `}}` at header byte {}", lx.pos)),
        }
    }
    if lx.peek().is_some() {
        return Err(format!(
            "unexpected text after the header dict at byte {}",
            lx.pos
        ));
    }
    match (descr, fortran, shape) {
        (Some(d), Some(f), Some(s)) => Ok((d, f, s)),
        (d, f, _) => {
            let missing = if d.is_none() {
                "descr"
            } else if f.is_none() {
                "fortran_order"
            } else {
                "shape"
            };
            Err(format!("header lacks the key `{missing}`"))
        }
    }
}

fn chunks<const N: usize>(data: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    data.chunks_exact(N).map(|c| {
        let mut a = [0u8; N];
        a.copy_from_slice(c);
        a
    })
}

/// Parses one `.npy` file; `origin` names it in errors.
pub fn parse_npy(bytes: &[u8], origin: &Path) -> Result<NpyArray, DataError> {
    let err = |msg: String| DataError::parse(origin, msg);
    if bytes.get(..6) != Some(MAGIC.as_slice()) {
        return Err(err(format!(
            "not a .npy file: the first 6 bytes are {:?}, expected the magic \"\\x93NUMPY\"",
            bytes.get(..6.min(bytes.len())).unwrap_or_default()
        )));
    }
    let (major, minor) = match bytes.get(6..8) {
        Some(&[a, b]) => (a, b),
        _ => return Err(err("truncated .npy file: no version bytes".to_owned())),
    };
    let (header_len, header_start) = match (major, minor) {
        (1, 0) => match bytes.get(8..10) {
            Some(&[a, b]) => (usize::from(u16::from_le_bytes([a, b])), 10usize),
            _ => return Err(err("truncated .npy file: no header length".to_owned())),
        },
        (2 | 3, 0) => match bytes.get(8..12) {
            Some(&[a, b, c, d]) => {
                let len = u32::from_le_bytes([a, b, c, d]);
                let len = usize::try_from(len)
                    .map_err(|_| err(format!("header length {len} is too large")))?;
                (len, 12usize)
            }
            _ => return Err(err("truncated .npy file: no header length".to_owned())),
        },
        _ => {
            return Err(err(format!(
                "unsupported .npy format version {major}.{minor} (supported: 1.0, 2.0, 3.0)"
            )));
        }
    };
    if header_len > MAX_HEADER_LEN {
        return Err(err(format!(
            "header length {header_len} is implausibly large"
        )));
    }
    let data_start = header_start
        .checked_add(header_len)
        .ok_or_else(|| err("header length overflows".to_owned()))?;
    let header = bytes.get(header_start..data_start).ok_or_else(|| {
        err(format!(
            "truncated .npy file: header of {header_len} bytes announced, {} bytes follow",
            bytes.len().saturating_sub(header_start)
        ))
    })?;
    if !header.ends_with(b"\n") {
        return Err(err(
            "malformed .npy header: it does not end with a newline".to_owned()
        ));
    }
    let (descr, fortran, shape) =
        parse_header(header).map_err(|m| err(format!("malformed .npy header: {m}")))?;
    if fortran {
        return Err(err("fortran_order arrays are not supported".to_owned()));
    }
    let dtype = Dtype::parse(&descr).ok_or_else(|| {
        err(format!(
            "unsupported dtype `{descr}` (supported: <f4, <i4, <i8, |i1, |u1, |b1, <Un)"
        ))
    })?;
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| err(format!("shape {shape:?} overflows the element count")))?;
    let itemsize = dtype
        .itemsize()
        .ok_or_else(|| err(format!("dtype `{descr}` is too wide")))?;
    let expected = count.checked_mul(itemsize).ok_or_else(|| {
        err(format!(
            "shape {shape:?} of `{descr}` overflows the data size"
        ))
    })?;
    let data = bytes.get(data_start..).unwrap_or_default();
    if data.len() != expected {
        return Err(err(format!(
            "data length mismatch: shape {shape:?} of `{descr}` needs {expected} bytes, found {}{}",
            data.len(),
            if data.len() < expected {
                " (data too short: truncated file?)"
            } else {
                " (trailing bytes)"
            }
        )));
    }
    let data = match dtype {
        Dtype::F32 => NpyData::F32(chunks::<4>(data).map(f32::from_le_bytes).collect()),
        Dtype::I32 => NpyData::I32(chunks::<4>(data).map(i32::from_le_bytes).collect()),
        Dtype::I64 => NpyData::I64(chunks::<8>(data).map(i64::from_le_bytes).collect()),
        Dtype::I8 => NpyData::I8(data.iter().map(|&b| i8::from_le_bytes([b])).collect()),
        Dtype::U8 => NpyData::U8(data.to_vec()),
        Dtype::Bool => NpyData::Bool(
            data.iter()
                .enumerate()
                .map(|(i, &b)| match b {
                    0 => Ok(false),
                    1 => Ok(true),
                    _ => Err(err(format!(
                        "element {i} of `|b1` is byte {b}, expected 0 or 1"
                    ))),
                })
                .collect::<Result<_, _>>()?,
        ),
        Dtype::Str(n) => {
            let mut out = Vec::with_capacity(count);
            for (i, elem) in data.chunks_exact(itemsize).enumerate() {
                let mut units: Vec<u32> = chunks::<4>(elem).map(u32::from_le_bytes).collect();
                while units.last() == Some(&0) {
                    units.pop();
                }
                let s = units
                    .iter()
                    .map(|&u| char::from_u32(u))
                    .collect::<Option<String>>()
                    .ok_or_else(|| {
                        err(format!(
                            "element {i} of `<U{n}` holds an invalid Unicode code point"
                        ))
                    })?;
                out.push(s);
            }
            NpyData::Str(out)
        }
    };
    Ok(NpyArray { shape, data })
}

/// Parses an `.npz` archive (ZIP, members stored or deflated) into its arrays, keyed by
/// member name without `.npy`; `origin` names the archive in errors, and errors inside a
/// member name it as `archive.npz:member.npy`. Directory entries are skipped; a member
/// whose name does not end in `.npy`, or a repeated name, is an error.
pub fn parse_npz(bytes: &[u8], origin: &Path) -> Result<BTreeMap<String, NpyArray>, DataError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| DataError::parse(origin, format!("not a readable .npz (ZIP) archive: {e}")))?;
    let mut out = BTreeMap::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).map_err(|e| {
            DataError::parse(origin, format!("cannot open archive member #{i}: {e}"))
        })?;
        if file.is_dir() {
            continue;
        }
        let name = file.name().to_owned();
        let member = PathBuf::from(format!("{}:{name}", origin.display()));
        let Some(key) = name.strip_suffix(".npy") else {
            return Err(DataError::parse(
                member,
                "archive member is not a .npy file (its name does not end in .npy)",
            ));
        };
        let key = key.to_owned();
        // The declared size only bounds the read; the zip reader checks size and CRC-32.
        // Deflate expands at most about 1032-fold, so a larger claim is corrupt.
        let declared = file.size();
        let bound = (bytes.len() as u64)
            .saturating_mul(1100)
            .saturating_add(1024);
        if declared > bound {
            return Err(DataError::parse(
                &member,
                format!(
                    "member declares {declared} bytes, impossible in an archive of {} bytes",
                    bytes.len()
                ),
            ));
        }
        let mut buf = Vec::with_capacity(
            usize::try_from(declared)
                .unwrap_or(usize::MAX)
                .min(bytes.len().saturating_mul(4).max(1 << 16)),
        );
        (&mut file)
            .take(declared.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(|e| DataError::parse(&member, format!("cannot read member: {e}")))?;
        if buf.len() as u64 != declared {
            return Err(DataError::parse(
                &member,
                format!(
                    "member holds {} bytes, the archive directory declares {declared}",
                    buf.len()
                ),
            ));
        }
        let array = parse_npy(&buf, &member)?;
        if out.insert(key, array).is_some() {
            return Err(DataError::parse(
                member,
                "archive member name appears twice",
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// Assembles a version-1.0 `.npy` file with the given descr, shape text and data.
    pub(crate) fn npy_bytes(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = MAGIC.to_vec();
        out.extend([1, 0]);
        out.extend(u16::try_from(header.len()).unwrap().to_le_bytes());
        out.extend(header.as_bytes());
        out.extend(data);
        out
    }

    /// `.npy` bytes of a 1-d `<i4` array.
    pub(crate) fn npy_i32(v: &[i32]) -> Vec<u8> {
        let data: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        npy_bytes("<i4", &format!("({},)", v.len()), &data)
    }

    /// `.npy` bytes of a 1-d `<i8` array.
    pub(crate) fn npy_i64(v: &[i64]) -> Vec<u8> {
        let data: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        npy_bytes("<i8", &format!("({},)", v.len()), &data)
    }

    /// `.npy` bytes of a 1-d `<f4` array.
    pub(crate) fn npy_f32(v: &[f32]) -> Vec<u8> {
        let data: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        npy_bytes("<f4", &format!("({},)", v.len()), &data)
    }

    /// `.npy` bytes of a 1-d `|u1` array.
    pub(crate) fn npy_u8(v: &[u8]) -> Vec<u8> {
        npy_bytes("|u1", &format!("({},)", v.len()), v)
    }

    /// `.npy` bytes of a 1-d `|i1` array.
    pub(crate) fn npy_i8(v: &[i8]) -> Vec<u8> {
        let data: Vec<u8> = v.iter().map(|x| x.to_le_bytes()[0]).collect();
        npy_bytes("|i1", &format!("({},)", v.len()), &data)
    }

    /// `.npy` bytes of a 1-d `<Un` array, n = the longest string.
    pub(crate) fn npy_str(v: &[&str]) -> Vec<u8> {
        let n = v
            .iter()
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(0)
            .max(1);
        let mut data = Vec::new();
        for s in v {
            let mut k = 0;
            for c in s.chars() {
                data.extend(u32::from(c).to_le_bytes());
                k += 1;
            }
            for _ in k..n {
                data.extend([0u8; 4]);
            }
        }
        npy_bytes(&format!("<U{n}"), &format!("({},)", v.len()), &data)
    }

    /// A ZIP archive of the given members, stored or deflated.
    pub(crate) fn zip_bytes(members: &[(&str, Vec<u8>)], deflate: bool) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let method = if deflate {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let opts = zip::write::SimpleFileOptions::default().compression_method(method);
        for (name, bytes) in members {
            w.start_file(*name, opts).unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn p() -> &'static Path {
        Path::new("fixture.npy")
    }

    #[test]
    fn reads_every_dtype() {
        let a = parse_npy(&npy_f32(&[1.0, -2.5]), p()).unwrap();
        assert_eq!(a.shape, vec![2]);
        assert_eq!(a.as_f32(p()).unwrap(), &[1.0, -2.5]);
        let a = parse_npy(&npy_i32(&[7, -1, i32::MAX]), p()).unwrap();
        assert_eq!(a.as_i32(p()).unwrap(), &[7, -1, i32::MAX]);
        assert_eq!(a.to_i64_vec(p()).unwrap(), vec![7, -1, i64::from(i32::MAX)]);
        let a = parse_npy(&npy_i64(&[2708, i64::MIN]), p()).unwrap();
        assert_eq!(a.as_i64(p()).unwrap(), &[2708, i64::MIN]);
        let a = parse_npy(&npy_i8(&[0, -3, 6]), p()).unwrap();
        assert_eq!(a.as_i8(p()).unwrap(), &[0, -3, 6]);
        let a = parse_npy(&npy_u8(&[0, 1, 255]), p()).unwrap();
        assert_eq!(a.as_u8(p()).unwrap(), &[0, 1, 255]);
        let a = parse_npy(&npy_bytes("|b1", "(3,)", &[0, 1, 1]), p()).unwrap();
        assert_eq!(a.as_bool(p()).unwrap(), &[false, true, true]);
        let e = err_of(&npy_bytes("|b1", "(2,)", &[0, 2]));
        assert!(e.contains("element 1 of `|b1` is byte 2"), "{e}");
        let a = parse_npy(&npy_str(&["AI", "Agents", "é€😀", ""]), p()).unwrap();
        assert_eq!(a.as_strings(p()).unwrap(), &["AI", "Agents", "é€😀", ""]);
        assert_eq!(a.vector_len(p()).unwrap(), 4);
    }

    #[test]
    fn shapes_scalar_2d_and_empty() {
        let a = parse_npy(&npy_bytes("<i8", "()", &5i64.to_le_bytes()), p()).unwrap();
        assert!(a.shape.is_empty());
        assert_eq!(a.as_i64(p()).unwrap(), &[5]);
        assert!(a.vector_len(p()).unwrap_err().to_string().contains("1-d"));
        let data: Vec<u8> = (0..6i32).flat_map(|x| x.to_le_bytes()).collect();
        let a = parse_npy(&npy_bytes("<i4", "(2, 3)", &data), p()).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.len(), 6);
        let a = parse_npy(&npy_bytes("<f4", "(0,)", &[]), p()).unwrap();
        assert!(a.is_empty());
        let e = parse_npy(&npy_bytes("<U0", "(1000000000000,)", &[]), p()).unwrap_err();
        assert!(e.to_string().contains("unsupported dtype `<U0`"), "{e}");
    }

    #[test]
    fn versions_2_and_3_have_u32_header_lengths() {
        let v1 = npy_i32(&[1, 2]);
        for major in [2u8, 3] {
            let header_len = u16::from_le_bytes([v1[8], v1[9]]);
            let mut v = MAGIC.to_vec();
            v.extend([major, 0]);
            v.extend(u32::from(header_len).to_le_bytes());
            v.extend(&v1[10..]);
            let a = parse_npy(&v, p()).unwrap();
            assert_eq!(a.as_i32(p()).unwrap(), &[1, 2]);
        }
    }

    #[test]
    fn header_variants() {
        // Double quotes, no trailing comma, keys in another order, extra spaces.
        let mut v = MAGIC.to_vec();
        let h = "{\"shape\":(2,),\"fortran_order\":False,\"descr\":\"|u1\"}   \n";
        v.extend([1, 0]);
        v.extend(u16::try_from(h.len()).unwrap().to_le_bytes());
        v.extend(h.as_bytes());
        v.extend([3, 4]);
        assert_eq!(parse_npy(&v, p()).unwrap().as_u8(p()).unwrap(), &[3, 4]);
    }

    fn err_of(bytes: &[u8]) -> String {
        parse_npy(bytes, p()).unwrap_err().to_string()
    }

    #[test]
    fn malformed_npy_is_rejected_with_reason() {
        let good = npy_i32(&[1, 2, 3]);
        let mut bad_magic = good.clone();
        bad_magic[1] = b'X';
        let e = err_of(&bad_magic);
        assert!(e.contains("fixture.npy") && e.contains("magic"), "{e}");
        assert!(err_of(b"").contains("magic"));
        assert!(err_of(b"\x93NUMPY").contains("version"));
        assert!(err_of(b"\x93NUMPY\x01\x00\x05").contains("header length"));
        let mut bad_version = good.clone();
        bad_version[6] = 4;
        assert!(err_of(&bad_version).contains("version 4.0"));
        // Header longer than the file.
        let e = err_of(&good[..50]);
        assert!(e.contains("truncated"), "{e}");
        // Data too short and too long.
        let e = err_of(&good[..good.len() - 1]);
        assert!(
            e.contains("data length mismatch") && e.contains("too short"),
            "{e}"
        );
        let mut long = good.clone();
        long.push(0);
        assert!(err_of(&long).contains("trailing"));
        // Header contents.
        let e = err_of(&npy_bytes(">i4", "(3,)", &[0; 12]));
        assert!(e.contains("unsupported dtype `>i4`"), "{e}");
        let e = err_of(&npy_bytes("|O", "(3,)", &[0; 12]));
        assert!(e.contains("unsupported dtype"), "{e}");
        let e = err_of(&npy_bytes("<i4", "(3, -1)", &[0; 12]));
        assert!(e.contains("malformed .npy header"), "{e}");
        let e = err_of(&npy_bytes("<i4", "(99999999999999999999,)", &[]));
        assert!(e.contains("too large"), "{e}");
        let e = err_of(&npy_bytes("<i8", "(4294967296, 4294967296)", &[]));
        assert!(e.contains("overflow"), "{e}");
        let e = err_of(&npy_bytes("<U4611686018427387904", "(1,)", &[]));
        assert!(e.contains("too wide"), "{e}");
        let mut fortran = npy_i32(&[1]);
        let at = fortran.windows(5).position(|w| w == b"False").unwrap();
        fortran[at..at + 5].copy_from_slice(b"True ");
        assert!(err_of(&fortran).contains("fortran_order"));
        let mut no_nl = good.clone();
        no_nl[127] = b' ';
        assert!(err_of(&no_nl).contains("newline"));
    }

    #[test]
    fn malformed_header_dicts() {
        for (h, want) in [
            ("{'descr': '<i4', 'shape': (1,), }", "fortran_order"),
            (
                "{'descr': '<i4', 'fortran_order': False, 'shape': (1,), 'x': 1}",
                "unexpected header key",
            ),
            (
                "{'descr': '<i4', 'descr': '<i4', 'fortran_order': False, 'shape': (1,)}",
                "twice",
            ),
            (
                "{'descr': 5, 'fortran_order': False, 'shape': (1,)}",
                "unsupported header value",
            ),
            (
                "{'descr': (1,), 'fortran_order': False, 'shape': (1,)}",
                "wrong type",
            ),
            (
                "{'descr': '<i4, 'fortran_order': False, 'shape': (1,)}",
                "expected",
            ),
            (
                "{'descr': '<i4', 'fortran_order': False, 'shape': (1,)} x",
                "after the header",
            ),
            ("[1]", "expected `{`"),
            ("{'descr': '<i4'", "expected `,`"),
            (
                "{'descr': '<i4', 'fortran_order': False, 'shape': (1,",
                "shape must be",
            ),
            (
                "{'descr': '<i4', 'fortran_order': False, 'shape': (1 2)}",
                "malformed shape",
            ),
        ] {
            let mut v = MAGIC.to_vec();
            let h = format!("{h}\n");
            v.extend([1, 0]);
            v.extend(u16::try_from(h.len()).unwrap().to_le_bytes());
            v.extend(h.as_bytes());
            v.extend(1i32.to_le_bytes());
            let e = err_of(&v);
            assert!(e.contains(want), "{h}: {e}");
        }
    }

    #[test]
    fn invalid_code_point_is_an_error() {
        let mut data = Vec::new();
        data.extend(u32::from('a').to_le_bytes());
        data.extend(0xD800u32.to_le_bytes());
        let e = err_of(&npy_bytes("<U2", "(1,)", &data));
        assert!(
            e.contains("invalid Unicode code point") && e.contains("element 0"),
            "{e}"
        );
        data.clear();
        data.extend(0x11_0000u32.to_le_bytes());
        assert!(err_of(&npy_bytes("<U1", "(1,)", &data)).contains("invalid"));
    }

    #[test]
    fn dtype_mismatch_and_missing_member_messages() {
        let a = parse_npy(&npy_i32(&[1]), p()).unwrap();
        let e = a.as_f32(p()).unwrap_err().to_string();
        assert!(
            e.contains("fixture.npy") && e.contains("expected dtype <f4") && e.contains("<i4"),
            "{e}"
        );
        let e = a.as_strings(p()).unwrap_err().to_string();
        assert!(e.contains("<U"), "{e}");
        let s = parse_npy(&npy_str(&["x"]), p()).unwrap();
        assert!(
            s.to_i64_vec(p())
                .unwrap_err()
                .to_string()
                .contains("integer")
        );
        let map = BTreeMap::from([("a".to_owned(), a)]);
        let e = npz_member(&map, "b", Path::new("x.npz"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("x.npz") && e.contains("`b.npy`") && e.contains("members: a"),
            "{e}"
        );
        assert_eq!(
            member_path(Path::new("d/x.npz"), "b"),
            PathBuf::from("d/x.npz:b.npy")
        );
    }

    #[test]
    fn npz_stored_and_deflated() {
        for deflate in [false, true] {
            let z = zip_bytes(
                &[
                    ("a.npy", npy_i32(&[1, 2])),
                    ("names.npy", npy_str(&["x", "yz"])),
                ],
                deflate,
            );
            let m = parse_npz(&z, Path::new("t.npz")).unwrap();
            assert_eq!(m.len(), 2);
            assert_eq!(m["a"].as_i32(p()).unwrap(), &[1, 2]);
            assert_eq!(m["names"].as_strings(p()).unwrap(), &["x", "yz"]);
        }
    }

    #[test]
    fn malformed_npz_is_rejected_with_member_name() {
        let z = zip_bytes(
            &[("a.npy", npy_i32(&[1, 2])), ("b.npy", npy_i32(&[3]))],
            false,
        );
        // Truncated archive: the central directory is gone.
        let e = parse_npz(&z[..z.len() / 2], Path::new("t.npz"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.npz") && e.contains("ZIP"), "{e}");
        assert!(parse_npz(b"", Path::new("t.npz")).is_err());
        // A member whose npy data is too short.
        let mut short = npy_i32(&[1, 2]);
        short.pop();
        let z = zip_bytes(&[("a.npy", npy_i32(&[1])), ("bad.npy", short)], true);
        let e = parse_npz(&z, Path::new("t.npz")).unwrap_err().to_string();
        assert!(
            e.contains("t.npz:bad.npy") && e.contains("too short"),
            "{e}"
        );
        // Bad magic inside a member.
        let z = zip_bytes(&[("bad.npy", b"PK not npy".to_vec())], false);
        let e = parse_npz(&z, Path::new("t.npz")).unwrap_err().to_string();
        assert!(e.contains("t.npz:bad.npy") && e.contains("magic"), "{e}");
        // A member that is not .npy.
        let z = zip_bytes(&[("readme.txt", b"hi".to_vec())], false);
        let e = parse_npz(&z, Path::new("t.npz")).unwrap_err().to_string();
        assert!(
            e.contains("t.npz:readme.txt") && e.contains("not a .npy"),
            "{e}"
        );
        // A central directory claiming an impossible size.
        let mut z = zip_bytes(&[("a.npy", npy_i32(&[1]))], false);
        let cd = z.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
        z[cd + 24..cd + 28].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        let e = parse_npz(&z, Path::new("t.npz")).unwrap_err().to_string();
        assert!(e.contains("t.npz:a.npy") && e.contains("impossible"), "{e}");
        // Corrupted member data: the CRC check fails.
        let member = npy_i32(&[1, 2, 3, 4]);
        let mut z = zip_bytes(&[("a.npy", member.clone())], false);
        let pos = z.windows(member.len()).position(|w| w == member).unwrap();
        z[pos + 128] = 9;
        let e = parse_npz(&z, Path::new("t.npz")).unwrap_err().to_string();
        assert!(e.contains("t.npz:a.npy"), "{e}");
    }

    #[test]
    fn garbage_never_panics() {
        // Deterministic pseudo-random mutations of a valid archive and npy.
        let z = zip_bytes(
            &[("a.npy", npy_str(&["ab", "c"])), ("b.npy", npy_f32(&[1.0]))],
            true,
        );
        let n = npy_i64(&[1, 2, 3]);
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..3000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut zz = z.clone();
            let i = (state as usize) % zz.len();
            zz[i] = (state >> 32) as u8;
            let _ = parse_npz(&zz, p());
            let mut nn = n.clone();
            let j = (state as usize >> 8) % nn.len();
            nn[j] = (state >> 40) as u8;
            let _ = parse_npy(&nn, p());
            let _ = parse_npy(&nn[..j], p());
        }
    }
}
