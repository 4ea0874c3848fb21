//! Closed issues of a repository into a resumable on-disk cache.
//!
//! Layout: `<root>/<owner>__<name>/{issues.jsonl, state.json, comments/<number>.jsonl}`.
//!
//! - `state.json` = `{next_url, etag_by_url, next_by_url, pages_done, complete}`, written
//!   atomically (temporary file, then rename) after every page.
//! - `issues.jsonl`: one issue per line (pull requests dropped). A page's lines are
//!   appended in one write only once the page and all its comments are fetched; a line
//!   without its newline (a crash mid-write) is cut off when the cache is next opened.
//! - `comments/<number>.jsonl`: one comment per line, written atomically before the
//!   issue's line is appended.
//!
//! A rerun resumes from `next_url` and dedupes by issue id; on completion `issues.jsonl`
//! is rewritten sorted by number, so an interrupted-then-resumed collection is byte-equal
//! to an uninterrupted one. Rerunning a complete collection revalidates every page with
//! `If-None-Match`; when all pages answer 304 nothing is rewritten.
//! (`next_by_url`, which lets a 304 page be skipped, is our addition to the spec's state.)
//!
//! ```
//! use std::sync::Arc;
//! use repro_llm_issues::collect::{CollectOpts, IssueCache, collect_closed_issues};
//! use repro_llm_issues::fixture::{FixtureServer, install_repo};
//! use repro_llm_issues::github::{FakeTime, GithubClient, NetworkPolicy};
//! use repro_llm_issues::synthetic::fixture_repo;
//!
//! let server = FixtureServer::start(Default::default())?;
//! let repo = fixture_repo("acme", "llm-chat", 25, 3, 7);
//! install_repo(&server, &repo, 10);
//! let time = Arc::new(FakeTime::new(1_700_000_000));
//! let client = GithubClient::new(&server.base_url(), NetworkPolicy::LoopbackOnly)?
//!     .with_time(time.clone(), time);
//! let dir = std::env::temp_dir().join(format!("llm-issues-doc-{}", std::process::id()));
//! let cache = IssueCache::new(&dir);
//! let opts = CollectOpts { per_page: 10, ..CollectOpts::default() };
//! let stats = collect_closed_issues(&client, &repo.meta.id, &cache, &opts)?;
//! assert_eq!(stats.issues_total, repo.issue_count());
//! assert_eq!(cache.load_issues(&repo.meta.id)?.len(), repo.issue_count());
//! std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), anyhow::Error>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use repro_core::report::write_atomic;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::github::{GetResult, GhError, GithubClient, RepoId};

/// A comment on an issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// GitHub's comment id.
    pub id: u64,
    /// Author login (empty when the account is gone).
    pub author: String,
    /// Markdown body.
    pub body: String,
    /// ISO 8601 creation time.
    pub created_at: String,
}

/// A closed issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// GitHub's global issue id (the dedupe key).
    pub id: u64,
    /// Repository.
    pub repo: RepoId,
    /// Issue number in the repository.
    pub number: u64,
    /// Title.
    pub title: String,
    /// Markdown body (`None` when GitHub sends null).
    pub body: Option<String>,
    /// `completed`, `not_planned`, ... (`None` for old issues).
    pub state_reason: Option<String>,
    /// Label names.
    pub labels: Vec<String>,
    /// ISO 8601 creation time.
    pub created_at: String,
    /// ISO 8601 closing time.
    pub closed_at: Option<String>,
    /// `comments` count as GitHub reports it.
    pub n_comments: u32,
    /// The comments (filled from `comments/<number>.jsonl`; never stored in `issues.jsonl`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<Comment>,
}

impl Issue {
    /// `https://github.com/<owner>/<name>/issues/<number>`.
    pub fn url(&self) -> String {
        format!("https://github.com/{}/issues/{}", self.repo, self.number)
    }

    /// Reads an item of the issues endpoint; `None` for a pull request. `url` names the
    /// page in errors.
    pub fn from_item(v: &Value, repo: &RepoId, url: &str) -> Result<Option<Self>, GhError> {
        if v.get("pull_request").is_some() {
            return Ok(None);
        }
        let shape = |msg: String| GhError::Shape {
            url: url.to_owned(),
            msg,
        };
        let num = |k: &str| {
            v.get(k)
                .and_then(Value::as_u64)
                .ok_or_else(|| shape(format!("issue item without a numeric `{k}`")))
        };
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        Ok(Some(Self {
            id: num("id")?,
            repo: repo.clone(),
            number: num("number")?,
            title: text("title").unwrap_or_default(),
            body: text("body"),
            state_reason: text("state_reason"),
            labels: v
                .get("labels")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|l| l.get("name").and_then(Value::as_str).or(l.as_str()))
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            created_at: text("created_at").unwrap_or_default(),
            closed_at: text("closed_at"),
            n_comments: v.get("comments").and_then(Value::as_u64).unwrap_or(0) as u32,
            comments: Vec::new(),
        }))
    }
}

impl Comment {
    fn from_item(v: &Value, url: &str) -> Result<Self, GhError> {
        Ok(Self {
            id: v
                .get("id")
                .and_then(Value::as_u64)
                .ok_or_else(|| GhError::Shape {
                    url: url.to_owned(),
                    msg: "comment without a numeric `id`".into(),
                })?,
            author: v
                .pointer("/user/login")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            body: v
                .get("body")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            created_at: v
                .get("created_at")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        })
    }
}

/// The resume state of one repository's collection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheState {
    /// The next page to fetch (`None` before the first page and once complete).
    pub next_url: Option<String>,
    /// ETag of every page fetched.
    pub etag_by_url: BTreeMap<String, String>,
    /// `rel="next"` of every page fetched (to walk past 304 pages).
    #[serde(default)]
    pub next_by_url: BTreeMap<String, Option<String>>,
    /// Pages stored so far (200 answers).
    pub pages_done: u64,
    /// Whether the last page was reached.
    pub complete: bool,
}

/// The on-disk cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueCache {
    root: PathBuf,
}

/// How to collect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectOpts {
    /// Items per page (GitHub's maximum is 100).
    pub per_page: usize,
    /// Fetch the comments of commented issues.
    pub comments: bool,
    /// Stop after this many pages of this call (the state then allows a resume).
    pub max_pages: Option<u64>,
}

impl Default for CollectOpts {
    /// 100 per page, with comments, no page limit.
    fn default() -> Self {
        Self {
            per_page: 100,
            comments: true,
            max_pages: None,
        }
    }
}

/// What one call did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectStats {
    /// Pages answered 200.
    pub pages_fetched: u64,
    /// Pages answered 304.
    pub pages_not_modified: u64,
    /// Pull requests skipped.
    pub prs_skipped: u64,
    /// Issues new to the cache.
    pub issues_new: u64,
    /// Issues whose stored line changed.
    pub issues_updated: u64,
    /// Issues in the cache afterwards.
    pub issues_total: usize,
    /// Comment pages fetched.
    pub comment_pages: u64,
    /// Whether `issues.jsonl` was rewritten (sorted) at the end.
    pub rewritten: bool,
    /// Whether the call resumed an unfinished collection.
    pub resumed: bool,
    /// Whether the collection is complete.
    pub complete: bool,
}

fn cache_err(path: &Path, line: Option<usize>, msg: impl std::fmt::Display) -> GhError {
    GhError::Cache {
        path: path.display().to_string(),
        line,
        msg: msg.to_string(),
    }
}

fn atomic(path: &Path, bytes: &[u8]) -> Result<(), GhError> {
    write_atomic(path, bytes).map_err(|e| cache_err(path, None, format!("{e:#}")))
}

impl IssueCache {
    /// A cache under `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The cache's root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/<owner>__<name>`.
    pub fn repo_dir(&self, repo: &RepoId) -> PathBuf {
        self.root.join(repo.folder())
    }

    /// `issues.jsonl` of `repo`.
    pub fn issues_path(&self, repo: &RepoId) -> PathBuf {
        self.repo_dir(repo).join("issues.jsonl")
    }

    /// `state.json` of `repo`.
    pub fn state_path(&self, repo: &RepoId) -> PathBuf {
        self.repo_dir(repo).join("state.json")
    }

    /// `comments/<number>.jsonl` of `repo`.
    pub fn comments_path(&self, repo: &RepoId, number: u64) -> PathBuf {
        self.repo_dir(repo)
            .join("comments")
            .join(format!("{number}.jsonl"))
    }

    /// The state (default when absent).
    pub fn load_state(&self, repo: &RepoId) -> Result<CacheState, GhError> {
        let p = self.state_path(repo);
        match std::fs::read_to_string(&p) {
            Ok(s) => serde_json::from_str(&s)
                .map_err(|e| cache_err(&p, Some(e.line()), format!("invalid state: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CacheState::default()),
            Err(e) => Err(cache_err(&p, None, e)),
        }
    }

    /// The stored issue lines by id, cutting off a trailing partial line.
    fn load_lines(&self, repo: &RepoId) -> Result<BTreeMap<u64, (u64, String)>, GhError> {
        let p = self.issues_path(repo);
        let text = match std::fs::read_to_string(&p) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(cache_err(&p, None, e)),
        };
        let complete = match text.rfind('\n') {
            Some(i) => &text[..=i],
            None => "",
        };
        if complete.len() != text.len() {
            // A crash mid-append: drop the partial line so appends continue cleanly.
            atomic(&p, complete.as_bytes())?;
        }
        let mut out = BTreeMap::new();
        for (i, line) in complete.lines().enumerate() {
            let issue: Issue = serde_json::from_str(line)
                .map_err(|e| cache_err(&p, Some(i + 1), format!("not an issue: {e}")))?;
            out.insert(issue.id, (issue.number, line.to_owned()));
        }
        Ok(out)
    }

    /// Every cached issue of `repo` with its comments, in file order.
    pub fn load_issues(&self, repo: &RepoId) -> Result<Vec<Issue>, GhError> {
        let p = self.issues_path(repo);
        let text = match std::fs::read_to_string(&p) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(cache_err(&p, None, e)),
        };
        // A trailing line without its newline is a partial write: not an issue yet.
        let complete = text.rfind('\n').map_or("", |i| &text[..=i]);
        let mut out = Vec::new();
        for (i, line) in complete.lines().enumerate() {
            let mut issue: Issue = serde_json::from_str(line)
                .map_err(|e| cache_err(&p, Some(i + 1), format!("not an issue: {e}")))?;
            if issue.n_comments > 0 {
                issue.comments = self.load_comments(repo, issue.number)?;
            }
            out.push(issue);
        }
        Ok(out)
    }

    /// The cached comments of one issue (empty when not fetched).
    pub fn load_comments(&self, repo: &RepoId, number: u64) -> Result<Vec<Comment>, GhError> {
        let p = self.comments_path(repo, number);
        let text = match std::fs::read_to_string(&p) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(cache_err(&p, None, e)),
        };
        text.lines()
            .enumerate()
            .map(|(i, l)| {
                serde_json::from_str(l)
                    .map_err(|e| cache_err(&p, Some(i + 1), format!("not a comment: {e}")))
            })
            .collect()
    }

    fn save_state(&self, repo: &RepoId, s: &CacheState) -> Result<(), GhError> {
        let p = self.state_path(repo);
        let json = serde_json::to_string_pretty(s).map_err(|e| cache_err(&p, None, e))?;
        if std::fs::read(&p).is_ok_and(|cur| cur == json.as_bytes()) {
            return Ok(());
        }
        atomic(&p, json.as_bytes())
    }

    fn append(&self, repo: &RepoId, lines: &str) -> Result<(), GhError> {
        let p = self.issues_path(repo);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p)
            .map_err(|e| cache_err(&p, None, e))?;
        f.write_all(lines.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| cache_err(&p, None, e))
    }
}

fn fetch_comments(
    client: &GithubClient,
    repo: &RepoId,
    number: u64,
    stats: &mut CollectStats,
) -> Result<Vec<Comment>, GhError> {
    let first = format!(
        "/repos/{}/{}/issues/{number}/comments?per_page=100",
        repo.owner, repo.name
    );
    let mut out = Vec::new();
    for page in client.paginate(&first) {
        let page = page?;
        stats.comment_pages += 1;
        let items = page.items.as_array().ok_or_else(|| GhError::Shape {
            url: page.url.clone(),
            msg: "comments: expected a JSON array".into(),
        })?;
        for it in items {
            out.push(Comment::from_item(it, &page.url)?);
        }
    }
    Ok(out)
}

/// Collects (or resumes, or revalidates) the closed issues of `repo` into `cache`.
///
/// # Errors
/// Whatever the client gives up on ([`GhError`]); the cache then holds every page
/// completed before the failure, and a rerun resumes after it.
pub fn collect_closed_issues(
    client: &GithubClient,
    repo: &RepoId,
    cache: &IssueCache,
    opts: &CollectOpts,
) -> Result<CollectStats, GhError> {
    let dir = cache.repo_dir(repo);
    std::fs::create_dir_all(dir.join("comments")).map_err(|e| cache_err(&dir, None, e))?;
    let mut state = cache.load_state(repo)?;
    let mut lines = cache.load_lines(repo)?;
    let first = format!(
        "{}/repos/{}/{}/issues?state=closed&sort=created&direction=asc&per_page={}",
        client.base(),
        repo.owner,
        repo.name,
        opts.per_page.clamp(1, 100)
    );
    let mut stats = CollectStats::default();
    let mut url = if state.complete {
        Some(first.clone())
    } else if let Some(n) = &state.next_url {
        stats.resumed = true;
        Some(n.clone())
    } else {
        Some(first.clone())
    };
    let mut seen_urls = BTreeSet::new();
    let mut pages_this_call = 0u64;
    while let Some(u) = url.take() {
        if !seen_urls.insert(u.clone()) {
            return Err(GhError::Shape {
                url: u,
                msg: "pagination loops back to a page already fetched".into(),
            });
        }
        if opts.max_pages.is_some_and(|m| pages_this_call >= m) {
            state.next_url = Some(u);
            cache.save_state(repo, &state)?;
            stats.issues_total = lines.len();
            return Ok(stats);
        }
        pages_this_call += 1;
        let etag = state.etag_by_url.get(&u).cloned();
        match client.get(&u, etag.as_deref())? {
            GetResult::NotModified => {
                stats.pages_not_modified += 1;
                url = state.next_by_url.get(&u).cloned().flatten();
            }
            GetResult::Page(page) => {
                let items = page.items.as_array().ok_or_else(|| GhError::Shape {
                    url: page.url.clone(),
                    msg: "issues: expected a JSON array".into(),
                })?;
                let mut new_lines = String::new();
                for it in items {
                    let Some(issue) = Issue::from_item(it, repo, &page.url)? else {
                        stats.prs_skipped += 1;
                        continue;
                    };
                    let line = serde_json::to_string(&issue)
                        .map_err(|e| cache_err(&cache.issues_path(repo), None, e))?;
                    let known = lines.get(&issue.id).map(|(_, l)| l == &line);
                    if known == Some(true) {
                        continue;
                    }
                    if opts.comments && issue.n_comments > 0 {
                        let comments = fetch_comments(client, repo, issue.number, &mut stats)?;
                        let mut text = String::new();
                        for c in &comments {
                            text +=
                                &serde_json::to_string(c).map_err(|e| cache_err(&dir, None, e))?;
                            text.push('\n');
                        }
                        atomic(&cache.comments_path(repo, issue.number), text.as_bytes())?;
                    }
                    if known.is_none() {
                        stats.issues_new += 1;
                        new_lines += &line;
                        new_lines.push('\n');
                    } else {
                        stats.issues_updated += 1;
                    }
                    lines.insert(issue.id, (issue.number, line));
                }
                if !new_lines.is_empty() {
                    cache.append(repo, &new_lines)?;
                }
                stats.pages_fetched += 1;
                state.pages_done += 1;
                if let Some(e) = &page.etag {
                    state.etag_by_url.insert(u.clone(), e.clone());
                }
                state.next_by_url.insert(u.clone(), page.links.next.clone());
                state.next_url.clone_from(&page.links.next);
                if page.links.next.is_some() {
                    state.complete = false;
                    cache.save_state(repo, &state)?;
                }
                url = page.links.next.clone();
            }
        }
    }
    // Complete: the file sorted by number, rewritten only if its bytes change.
    let mut sorted: Vec<&(u64, String)> = lines.values().collect();
    sorted.sort_by_key(|(n, _)| *n);
    let mut content = String::new();
    for (_, l) in sorted {
        content += l;
        content.push('\n');
    }
    let path = cache.issues_path(repo);
    let current = std::fs::read(&path).unwrap_or_default();
    if current != content.as_bytes() {
        atomic(&path, content.as_bytes())?;
        stats.rewritten = true;
    }
    state.next_url = None;
    state.complete = true;
    cache.save_state(repo, &state)?;
    stats.issues_total = lines.len();
    stats.complete = true;
    Ok(stats)
}
