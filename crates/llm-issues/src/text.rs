//! Issue text: the document type, preprocessing, tokens, FNV-1a feature hashing and
//! hashed tf-idf (our operationalisation; the paper coded issues by hand).
//!
//! Preprocessing ([`clean`]): HTML comments `<!-- -->` removed, fenced code blocks
//! replaced by `__code__`, URLs by `__url__`, NUL bytes by spaces, then lower-cased.
//! Tokens are `[a-z0-9_]+`. Title and body (comments appended to the body) are cut at
//! 8 000 characters each *before* cleaning, so an unterminated code fence at the cut is
//! code to the end. Features ([`features`]): unigrams and adjacent bigrams of the title and
//! of the body (never across the two), plus every title token again with the prefix `t:`.
//!
//! [`HashedTfidf`]: feature strings hashed with 64-bit FNV-1a modulo `n_buckets`
//! (collisions add their counts), `tf = 1 + ln(count)`, `idf = ln((1 + N)/(1 + df)) + 1`
//! on the training documents (scikit-learn's smoothed idf), rows L2-normalised.
//!
//! ```
//! use repro_llm_issues::text::{Doc, HashedTfidf, fnv1a64};
//! let docs = [Doc::new("CUDA out of memory", "OOM on a 24 GB card"), Doc::new("Add a web UI", "")];
//! let tfidf = HashedTfidf::fit(&docs, 1 << 15);
//! let row = tfidf.transform_sparse(&docs[0]);
//! let norm: f32 = row.iter().map(|(_, v)| v * v).sum();
//! assert!((norm - 1.0).abs() < 1e-5);
//! assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
//! ```

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// An issue as text: title, body and comments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Doc {
    /// Title.
    pub title: String,
    /// Body (Markdown).
    pub body: String,
    /// Comment bodies, in order.
    pub comments: Vec<String>,
}

impl Doc {
    /// A document without comments.
    pub fn new(title: &str, body: &str) -> Self {
        Self {
            title: title.into(),
            body: body.into(),
            comments: Vec::new(),
        }
    }

    /// Adds comments.
    pub fn with_comments(mut self, comments: Vec<String>) -> Self {
        self.comments = comments;
        self
    }

    /// Body and comments joined by newlines, cut at [`MAX_CHARS`].
    pub fn body_text(&self) -> String {
        let mut s = self.body.clone();
        for c in &self.comments {
            s.push('\n');
            s += c;
        }
        cut(&s, MAX_CHARS).to_owned()
    }
}

/// Characters of title and of body kept before cleaning.
pub const MAX_CHARS: usize = 8000;

/// `s` cut at `n` characters (on a character boundary).
pub fn cut(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

static HTML_COMMENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)<!--.*?(?:-->|\z)").expect("valid regex"));
static CODE_FENCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)```.*?(?:```|\z)|~~~.*?(?:~~~|\z)").expect("valid regex"));
static URL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"https?://\S+").expect("valid regex"));
static TOKEN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[a-z0-9_]+").expect("valid regex"));

/// The cleaned, lower-cased text (see the module docs).
pub fn clean(s: &str) -> String {
    let s = s.replace('\0', " ");
    let s = HTML_COMMENT.replace_all(&s, " ");
    let s = CODE_FENCE.replace_all(&s, " __code__ ");
    let s = URL.replace_all(&s, " __url__ ");
    s.to_lowercase()
}

/// Tokens `[a-z0-9_]+` of cleaned text.
pub fn tokens(cleaned: &str) -> Vec<&str> {
    TOKEN.find_iter(cleaned).map(|m| m.as_str()).collect()
}

/// Feature strings of a document (see the module docs), in order, with repeats.
pub fn features(doc: &Doc) -> Vec<String> {
    let title = clean(cut(&doc.title, MAX_CHARS));
    let body = clean(&doc.body_text());
    let t = tokens(&title);
    let b = tokens(&body);
    let mut out = Vec::with_capacity(2 * (t.len() + b.len()) + t.len());
    for seq in [&t, &b] {
        out.extend(seq.iter().map(|w| (*w).to_owned()));
        out.extend(seq.windows(2).map(|w| format!("{} {}", w[0], w[1])));
    }
    out.extend(t.iter().map(|w| format!("t:{w}")));
    out
}

/// 64-bit FNV-1a (offset basis `0xcbf29ce484222325`, prime `0x100000001b3`): stable
/// across runs, platforms and Rust versions, unlike `std`'s `RandomState`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The bucket of a feature string.
pub fn bucket(feature: &str, n_buckets: usize) -> u32 {
    (fnv1a64(feature.as_bytes()) % n_buckets.max(1) as u64) as u32
}

/// Bucket counts of a document, sorted by bucket.
pub fn bucket_counts(doc: &Doc, n_buckets: usize) -> Vec<(u32, u32)> {
    let mut m: BTreeMap<u32, u32> = BTreeMap::new();
    for f in features(doc) {
        *m.entry(bucket(&f, n_buckets)).or_default() += 1;
    }
    m.into_iter().collect()
}

/// Hashed tf-idf fitted on training documents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HashedTfidf {
    /// Buckets (columns).
    pub n_buckets: usize,
    /// Inverse document frequency per bucket.
    pub idf: Vec<f32>,
    /// Training documents.
    pub n_docs: usize,
    /// The most frequent training feature of each bucket seen (for reading weights).
    #[serde(skip)]
    pub names: BTreeMap<u32, String>,
}

impl HashedTfidf {
    /// Fits the idf on `docs`.
    pub fn fit(docs: &[Doc], n_buckets: usize) -> Self {
        let n_buckets = n_buckets.max(1);
        let mut df = vec![0u32; n_buckets];
        let mut freq: BTreeMap<u32, BTreeMap<String, u32>> = BTreeMap::new();
        for d in docs {
            let mut seen = std::collections::BTreeSet::new();
            for f in features(d) {
                let b = bucket(&f, n_buckets);
                if seen.insert(b) {
                    df[b as usize] += 1;
                }
                *freq.entry(b).or_default().entry(f).or_default() += 1;
            }
        }
        let n = docs.len() as f64;
        let idf = df
            .iter()
            .map(|&d| (((1.0 + n) / (1.0 + f64::from(d))).ln() + 1.0) as f32)
            .collect();
        let names =
            freq.into_iter()
                .map(|(b, m)| {
                    // Most frequent; ties to the lexicographically first (BTreeMap order).
                    let best = m.into_iter().fold((String::new(), 0u32), |acc, (f, c)| {
                        if c > acc.1 { (f, c) } else { acc }
                    });
                    (b, best.0)
                })
                .collect();
        Self {
            n_buckets,
            idf,
            n_docs: docs.len(),
            names,
        }
    }

    /// One document's L2-normalised tf-idf row as `(bucket, value)`, sorted by bucket.
    pub fn transform_sparse(&self, doc: &Doc) -> Vec<(u32, f32)> {
        let mut row: Vec<(u32, f32)> = bucket_counts(doc, self.n_buckets)
            .into_iter()
            .map(|(b, c)| (b, (1.0 + f64::from(c).ln()) as f32 * self.idf[b as usize]))
            .collect();
        let norm = row.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|(_, v)| *v /= norm);
        }
        row
    }

    /// Dense rows, row-major `[docs.len(), n_buckets]`.
    pub fn transform_dense(&self, docs: &[Doc]) -> Vec<f32> {
        let mut out = vec![0f32; docs.len() * self.n_buckets];
        for (i, d) in docs.iter().enumerate() {
            for (b, v) in self.transform_sparse(d) {
                out[i * self.n_buckets + b as usize] = v;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_strips_comments_code_urls_and_nul() {
        let s = "Hi <!-- template\nnoise --> see https://x.io/a?b=1 and\n```rust\nlet x = 1;\n```\nEnd\0X";
        let c = clean(s);
        assert!(!c.contains("template") && !c.contains("let x"), "{c}");
        assert!(c.contains("__url__") && c.contains("__code__"), "{c}");
        assert!(!c.contains('\0') && c.contains("end x"), "{c}");
        assert_eq!(
            tokens(&c),
            ["hi", "see", "__url__", "and", "__code__", "end", "x"]
        );
        // Unterminated fences and comments run to the end.
        assert_eq!(tokens(&clean("a ```b c")), ["a", "__code__"]);
        assert_eq!(tokens(&clean("a <!-- b c")), ["a"]);
    }

    #[test]
    fn features_are_unigrams_bigrams_and_title_prefixes() {
        let f = features(&Doc::new("OOM error", "CUDA out"));
        assert_eq!(
            f,
            [
                "oom",
                "error",
                "oom error",
                "cuda",
                "out",
                "cuda out",
                "t:oom",
                "t:error"
            ]
        );
        let long = "é".repeat(MAX_CHARS + 10);
        assert_eq!(cut(&long, MAX_CHARS).chars().count(), MAX_CHARS);
    }

    #[test]
    fn fnv1a_golden_values() {
        // Reference values of 64-bit FNV-1a (Fowler/Noll/Vo test vectors for "" and "a",
        // the others from an independent Python implementation).
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
        // Bucket ids of five tokens at 2^15 buckets.
        let b: Vec<u32> = ["bug", "feature", "question", "cuda", "t:error"]
            .iter()
            .map(|t| bucket(t, 1 << 15))
            .collect();
        assert_eq!(b, GOLDEN_BUCKETS);
    }

    /// `fnv1a64(token) % 2^15` computed in Python (see the test above).
    const GOLDEN_BUCKETS: [u32; 5] = [4885, 31389, 8901, 27094, 16259];

    #[test]
    fn tfidf_matches_hand_values() {
        // Two docs; "x" in both (df 2), "y" only in the first (df 1); N = 2.
        // idf(x) = ln(3/3) + 1 = 1, idf(y) = ln(3/2) + 1.
        let docs = [Doc::new("", "x y y"), Doc::new("", "x")];
        let t = HashedTfidf::fit(&docs, 1 << 20);
        let bx = bucket("x", 1 << 20) as usize;
        let by = bucket("y", 1 << 20) as usize;
        assert!((t.idf[bx] - 1.0).abs() < 1e-6);
        assert!((t.idf[by] - ((1.5f64).ln() + 1.0) as f32).abs() < 1e-6);
        let row: BTreeMap<u32, f32> = t.transform_sparse(&docs[0]).into_iter().collect();
        // tf(y) = 1 + ln 2; the bigrams "x y" and "y y" also appear once (idf ln 1.5 + 1).
        let wy = (1.0 + 2f32.ln()) * t.idf[by];
        let wb = t.idf[bucket("x y", 1 << 20) as usize];
        let norm = (1.0 + wy * wy + 2.0 * wb * wb).sqrt();
        assert!((row[&(bx as u32)] - 1.0 / norm).abs() < 1e-6);
        assert!((row[&(by as u32)] - wy / norm).abs() < 1e-6);
        assert_eq!(t.names[&(by as u32)], "y");
        let dense = t.transform_dense(&docs);
        assert_eq!(dense.len(), 2 << 20);
        assert!((dense[(1 << 20) + bx] - 1.0).abs() < 1e-6);
    }
}
