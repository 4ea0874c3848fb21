//! Tiny Shakespeare, the character-level corpus of karpathy/char-rnn
//! (`data/tinyshakespeare/input.txt`; see `datasets/SOURCES.md`, section 5).
//!
//! Format: plain text (ASCII upstream, 1,115,394 bytes, 40,000 LF-terminated lines,
//! 65 distinct characters). Any valid UTF-8 is accepted; invalid UTF-8 is an error naming
//! the byte offset and line. The vocabulary is the sorted set of characters, as in
//! nanoGPT's `shakespeare_char/prepare.py`, and token ids are positions in it.

use std::path::Path;

use crate::data::DataRoots;
use crate::error::DataError;

/// A text with its character vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharCorpus {
    /// The whole text.
    pub text: String,
    /// The distinct characters of `text`, sorted by code point; token id = index.
    pub vocab: Vec<char>,
}

/// A character outside the vocabulary, met by [`CharCorpus::encode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("character {ch:?} at byte {offset} is not in the vocabulary")]
pub struct UnknownChar {
    /// The character.
    pub ch: char,
    /// Its byte offset in the encoded string.
    pub offset: usize,
}

impl CharCorpus {
    /// Builds the corpus and its vocabulary from a text.
    pub fn new(text: String) -> Self {
        let mut vocab: Vec<char> = text.chars().collect();
        vocab.sort_unstable();
        vocab.dedup();
        Self { text, vocab }
    }

    /// Number of distinct characters.
    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    /// Token ids of `s`; an error for the first character not in the vocabulary.
    pub fn encode(&self, s: &str) -> Result<Vec<u32>, UnknownChar> {
        s.char_indices()
            .map(|(offset, ch)| {
                self.vocab
                    .binary_search(&ch)
                    .map(|i| i as u32)
                    .map_err(|_| UnknownChar { ch, offset })
            })
            .collect()
    }

    /// The text of token ids; an id outside the vocabulary becomes U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> String {
        ids.iter()
            .map(|&i| {
                self.vocab
                    .get(i as usize)
                    .copied()
                    .unwrap_or(char::REPLACEMENT_CHARACTER)
            })
            .collect()
    }

    /// Splits the text into (train, validation) at character `floor(frac · chars)`, as
    /// nanoGPT does with `frac = 0.9`. `frac` is clamped to 0…1 (NaN counts as 0).
    pub fn split(&self, frac: f64) -> (&str, &str) {
        let frac = if frac.is_nan() {
            0.0
        } else {
            frac.clamp(0.0, 1.0)
        };
        let n = self.text.chars().count();
        // Saturating float-to-int conversion; frac ≤ 1 keeps k ≤ n.
        let k = ((n as f64) * frac).floor() as usize;
        let at = self
            .text
            .char_indices()
            .nth(k)
            .map_or(self.text.len(), |(i, _)| i);
        self.text.split_at(at)
    }
}

/// Parses a text file into a [`CharCorpus`]; `origin` names it in errors.
pub fn parse_text(bytes: &[u8], origin: &Path) -> Result<CharCorpus, DataError> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(CharCorpus::new(s.to_owned())),
        Err(e) => {
            let at = e.valid_up_to();
            let prefix = bytes.get(..at).unwrap_or_default();
            let line = prefix.iter().filter(|&&b| b == b'\n').count() + 1;
            Err(DataError::parse_at(
                origin,
                line,
                format!(
                    "invalid UTF-8 at byte offset {at} (byte 0x{:02x})",
                    bytes.get(at).copied().unwrap_or_default()
                ),
            ))
        }
    }
}

/// Loads Tiny Shakespeare (dataset `tinyshakespeare`, file `tinyshakespeare/input.txt`).
pub fn load_tinyshakespeare(roots: &DataRoots) -> Result<CharCorpus, DataError> {
    let (bytes, path) = roots.read_with_path("tinyshakespeare", "tinyshakespeare/input.txt")?;
    parse_text(&bytes, &path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_tinyshakespeare() {
        let Some(roots) = crate::testing::mirror_roots() else {
            return;
        };
        let c = load_tinyshakespeare(&roots).unwrap();
        assert_eq!(c.text.len(), 1_115_394);
        assert!(c.text.is_ascii());
        assert_eq!(c.text.lines().count(), 40_000);
        assert!(c.text.ends_with('\n'));
        assert_eq!(c.vocab_size(), 65);
        let expected: String =
            "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".into();
        assert_eq!(c.vocab.iter().collect::<String>(), expected);
        assert!(c.text.starts_with("First Citizen:\n"));
        let (train, val) = c.split(0.9);
        // nanoGPT: int(n * 0.9).
        assert_eq!(train.len(), 1_003_854);
        assert_eq!(val.len(), 1_115_394 - 1_003_854);
        let ids = c.encode(&c.text).unwrap();
        assert_eq!(ids.len(), c.text.len());
        assert_eq!(c.decode(&ids), c.text);
        assert_eq!(c.encode("First").unwrap(), [18, 47, 56, 57, 58]);
    }

    #[test]
    fn fixture_corpus() {
        let c = parse_text("ba\nb é".as_bytes(), Path::new("t.txt")).unwrap();
        assert_eq!(c.vocab, ['\n', ' ', 'a', 'b', 'é']);
        assert_eq!(c.encode("abé").unwrap(), [2, 3, 4]);
        let e = c.encode("ab z").unwrap_err();
        assert_eq!(e, UnknownChar { ch: 'z', offset: 3 });
        assert!(e.to_string().contains("'z'"));
        assert_eq!(c.decode(&[3, 2, 99]), "ba\u{fffd}");
        assert_eq!(c.split(0.5), ("ba\n", "b é"));
        assert_eq!(c.split(1.0), ("ba\nb é", ""));
        assert_eq!(c.split(0.0), ("", "ba\nb é"));
        assert_eq!(c.split(f64::NAN), ("", "ba\nb é"));
        assert_eq!(c.split(7.0), ("ba\nb é", ""));
        // Split at a character boundary, not a byte boundary.
        assert_eq!(c.split(5.0 / 6.0), ("ba\nb ", "é"));
        let empty = parse_text(b"", Path::new("t.txt")).unwrap();
        assert!(empty.vocab.is_empty());
        assert_eq!(empty.split(0.9), ("", ""));
    }

    #[test]
    fn invalid_utf8_names_offset_and_line() {
        let e = parse_text(b"ab\ncd\n\xffx", Path::new("t.txt"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t.txt, line 3") && e.contains("byte offset 6"),
            "{e}"
        );
        let e = parse_text(b"\xe2\x82", Path::new("t.txt"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1") && e.contains("byte offset 0"), "{e}");
    }
}
