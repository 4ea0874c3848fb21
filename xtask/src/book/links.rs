//! The link and image check over the built HTML: every local `href` and `src` must resolve
//! to a file of the book. External targets are not fetched.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};
/// A local link or image of the built book that does not resolve.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Broken {
    /// The page, relative to the book.
    pub page: String,
    /// The `href` or `src` as written.
    pub target: String,
    /// What is wrong.
    pub problem: Problem,
}

/// What is wrong with a [`Broken`] target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Problem {
    /// An `<img>` whose file is not in the book.
    MissingImage,
    /// A script, stylesheet or frame whose file is not in the book.
    MissingFile,
    /// A link whose file is not in the book.
    MissingPage,
    /// A link out of the book's folder.
    OutsideBook,
    /// A link to a page of the book without the element its `#fragment` names.
    MissingAnchor,
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.problem {
            Problem::MissingImage => "missing image",
            Problem::MissingFile => "missing file",
            Problem::MissingPage => "broken link",
            Problem::OutsideBook => "link out of the book",
            Problem::MissingAnchor => "link to a missing anchor",
        };
        write!(f, "{}: {what} `{}`", self.page, self.target)
    }
}

/// One tag's attribute that points somewhere: the tag name, the attribute and its value.
struct Reference {
    tag: String,
    attr: String,
    value: String,
}

/// Checks every `href` and `src` of every HTML page under `book`: a local target must be a
/// file of the book (a folder counts when it has `index.html`), and a `#fragment` on a
/// link to a page of the book must name an `id` there. External (`http:`, `mailto:`, ...)
/// targets are not fetched. Returns the broken ones, sorted.
pub fn check_links(book: &Path) -> Result<Vec<Broken>> {
    let mut pages = Vec::new();
    html_files(book, book, &mut pages)?;
    pages.sort();
    let mut texts = BTreeMap::new();
    for page in &pages {
        let path = book.join(page);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        texts.insert(page.clone(), text);
    }
    let mut ids: BTreeMap<&String, BTreeSet<String>> = BTreeMap::new();
    for (page, text) in &texts {
        let set = ids.entry(page).or_default();
        for r in references(text) {
            if r.attr == "id" || (r.attr == "name" && r.tag == "a") {
                set.insert(r.value);
            }
        }
    }
    let mut broken = Vec::new();
    for (page, text) in &texts {
        let refs = references(text);
        // A `<base href="/">` (mdbook's 404 page) makes relative targets root-relative.
        let base = refs
            .iter()
            .find(|r| r.tag == "base" && r.attr == "href")
            .map(|r| r.value.clone());
        for r in refs {
            let is_link = r.attr == "href" && r.tag != "base";
            if !(is_link || r.attr == "src") {
                continue;
            }
            let Some(target) = local_target(&r.value) else {
                continue;
            };
            let (path, fragment) = match target.split_once('#') {
                Some((p, f)) => (p.to_owned(), Some(f.to_owned())),
                None => (target.clone(), None),
            };
            let path = path.split('?').next().unwrap_or_default().to_owned();
            let problem_missing = match (r.tag.as_str(), is_link) {
                ("img", _) => Problem::MissingImage,
                ("link", _) | (_, false) => Problem::MissingFile,
                _ => Problem::MissingPage,
            };
            let mut report = |problem| {
                broken.push(Broken {
                    page: page.clone(),
                    target: r.value.clone(),
                    problem,
                })
            };
            if path.is_empty() {
                // `#fragment` on the page itself.
                if let Some(f) = fragment.filter(|f| !f.is_empty())
                    && !ids[page].contains(&percent_decode(&f))
                {
                    report(Problem::MissingAnchor);
                }
                continue;
            }
            let from_dir = match &base {
                Some(b) if b.starts_with('/') => PathBuf::from(b.trim_start_matches('/')),
                _ => Path::new(page)
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default(),
            };
            let joined = if path.starts_with('/') {
                PathBuf::from(percent_decode(path.trim_start_matches('/')))
            } else {
                from_dir.join(percent_decode(&path))
            };
            let Some(rel) = normalise(&joined) else {
                report(Problem::OutsideBook);
                continue;
            };
            let full = book.join(&rel);
            let resolved = if full.is_dir() {
                rel.join("index.html")
            } else {
                rel.clone()
            };
            if !book.join(&resolved).is_file() {
                report(problem_missing);
                continue;
            }
            if let Some(f) = fragment.filter(|f| !f.is_empty()) {
                let key = resolved.to_string_lossy().into_owned();
                if let Some(set) = ids.get(&key)
                    && !set.contains(&percent_decode(&f))
                {
                    report(Problem::MissingAnchor);
                }
            }
        }
    }
    broken.sort();
    broken.dedup();
    Ok(broken)
}

pub(super) fn html_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        if path.is_dir() {
            html_files(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "html") {
            let rel = path.strip_prefix(root).expect("under the root");
            out.push(rel.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

/// The target when it is local (no scheme, not protocol-relative, not empty).
fn local_target(value: &str) -> Option<String> {
    let v = value.trim();
    if v.is_empty() || v.starts_with("//") {
        return None;
    }
    let before = v.split(['/', '?', '#']).next().unwrap_or_default();
    if before.contains(':') {
        return None;
    }
    Some(v.to_owned())
}

/// `a/./b/../c` as `a/c`; `None` when it climbs out of the root.
pub(super) fn normalise(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

pub(super) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The attributes of every tag of `html`, skipping comments and the insides of `<script>`
/// and `<style>`.
fn references(html: &str) -> Vec<Reference> {
    let mut refs = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix("!--") {
            rest = after.find("-->").map_or("", |e| &after[e + 3..]);
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect::<String>()
            .to_ascii_lowercase();
        if name.is_empty() || !rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
            // A closing tag, a doctype or a stray `<`.
            continue;
        }
        let (inside, after) = match tag_end(rest) {
            Some(end) => (&rest[name.len()..end], &rest[end + 1..]),
            None => (&rest[name.len()..], ""),
        };
        for (attr, value) in attributes(inside) {
            refs.push(Reference {
                tag: name.clone(),
                attr,
                value: html_unescape(&value),
            });
        }
        rest = after;
        if name == "script" || name == "style" {
            let close = format!("</{name}");
            rest = rest
                .to_ascii_lowercase()
                .find(&close)
                .map_or("", |e| &rest[e..]);
        }
    }
    refs
}

/// The index of the `>` closing the tag whose name starts `s`, minding quoted values.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// `name="value"`, `name='value'` and `name=value` pairs of a tag's inside, names lower-case.
fn attributes(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == '/') {
            i += 1;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() && !matches!(chars[i], '=' | '/' | '>') {
            i += 1;
        }
        let name: String = chars[start..i]
            .iter()
            .collect::<String>()
            .to_ascii_lowercase();
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i < chars.len() && chars[i] == '=' {
            i += 1;
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            let value = if i < chars.len() && matches!(chars[i], '"' | '\'') {
                let q = chars[i];
                i += 1;
                let vs = i;
                while i < chars.len() && chars[i] != q {
                    i += 1;
                }
                let v: String = chars[vs..i].iter().collect();
                i += 1;
                v
            } else {
                let vs = i;
                while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '>' {
                    i += 1;
                }
                chars[vs..i].iter().collect()
            };
            if !name.is_empty() {
                out.push((name, value));
            }
        } else if name.is_empty() {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use repro_core::testing::TempDir;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn link_check_reports_a_broken_link_a_missing_image_and_a_bad_anchor() {
        let tmp = TempDir::new("book-links");
        let book = tmp.path();
        write(book, "img/ok.svg", "<svg/>");
        write(
            book,
            "index.html",
            r##"<html><head><link rel="stylesheet" href="css/gone.css"></head><body>
            <h1 id="top">t</h1>
            <a href="papers/a.html">fine</a> <a href="papers/a.html#sec">fine anchor</a>
            <a href="#top">self</a> <a href="https://example.org/x">external</a>
            <a href="mailto:x@y">mail</a> <a href="papers/">folder with index</a>
            <img src="img/ok.svg"> <img src='img/missing.png'>
            <a href="nowhere.html">broken</a> <a href="papers/a.html#nosuch">bad anchor</a>
            <a href="../../crates/x">out</a>
            <!-- <a href="commented.html"> -->
            <script>if (a<b) { x = '<img src="in-script.png">'; }</script>
            </body></html>"##,
        );
        write(
            book,
            "papers/a.html",
            r#"<h2 id="sec">s</h2><img src="../img/ok.svg"><img src="../img/gone%20too.svg">"#,
        );
        write(book, "papers/index.html", "<p>i</p>");
        write(
            book,
            "404.html",
            r#"<base href="/"><a href="papers/a.html">ok from the root</a>"#,
        );
        let broken = check_links(book).unwrap();
        let shown: Vec<String> = broken.iter().map(|b| b.to_string()).collect();
        assert_eq!(
            shown,
            [
                "index.html: link out of the book `../../crates/x`",
                "index.html: missing file `css/gone.css`",
                "index.html: missing image `img/missing.png`",
                "index.html: broken link `nowhere.html`",
                "index.html: link to a missing anchor `papers/a.html#nosuch`",
                "papers/a.html: missing image `../img/gone%20too.svg`",
            ],
            "{shown:#?}"
        );
    }
}
