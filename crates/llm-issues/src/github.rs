//! A blocking GitHub REST client: Link-header pagination, ETag revalidation, rate-limit
//! waits and retries through an injectable [`Clock`] and [`Sleeper`], a token that never
//! reaches a log, an error or `Debug` output, and a [`NetworkPolicy`] that by default only
//! lets requests reach the loopback interface.
//!
//! The endpoints and headers follow GitHub's REST conventions (our operationalisation of
//! the paper's collection, whose scripts are not public):
//!
//! | what | request |
//! |---|---|
//! | discover | `GET /search/repositories?q=..&sort=stars&order=desc&per_page=100` (≤ 1 000 results) |
//! | repository | `GET /repos/{o}/{r}` → stars, `pushed_at`, archived |
//! | contributors | `GET /repos/{o}/{r}/contributors?per_page=1&anon=1` → page number of `rel="last"` |
//! | closed issues | `GET /search/issues?q=repo:{o}/{r}+type:issue+state:closed&per_page=1` → `total_count` |
//! | issues | `GET /repos/{o}/{r}/issues?state=closed&sort=created&direction=asc&per_page=100` |
//! | comments | `GET /repos/{o}/{r}/issues/{n}/comments?per_page=100` |
//!
//! Retry policy per request, attempt `a = 0..=max_retries`:
//!
//! - 200: the page; when `x-ratelimit-remaining` is 0 the *next* request first sleeps
//!   `max(reset − now, 0) + 1` s.
//! - 304: [`GetResult::NotModified`].
//! - 403/429 with `retry-after`: sleep that long; 403/429 with `x-ratelimit-remaining: 0`:
//!   sleep `max(reset − now, 0) + 1`; other 403/429 (secondary limits): `min(60·2^a, 900)`.
//! - 5xx, a dropped connection or a truncated body: `min(2^a, 64)` s plus a seeded jitter
//!   below 1 s.
//! - 404, 410, 422 and any other status: an error, no retry.
//!
//! ```
//! use std::sync::Arc;
//! use repro_llm_issues::fixture::{FixtureResponse, FixtureServer};
//! use repro_llm_issues::github::{FakeTime, GetResult, GithubClient, NetworkPolicy};
//!
//! let server = FixtureServer::start(Default::default())?;
//! server.route("/repos/a/b", FixtureResponse::json(r#"{"full_name": "a/b"}"#));
//! let time = Arc::new(FakeTime::new(1_700_000_000));
//! let client = GithubClient::new(&server.base_url(), NetworkPolicy::LoopbackOnly)?
//!     .with_time(time.clone(), time.clone());
//! let GetResult::Page(page) = client.get("/repos/a/b", None)? else { unreachable!() };
//! assert_eq!(page.items["full_name"], "a/b");
//! // The real API is refused unless the policy allows any host.
//! assert!(client.get("https://api.github.com/repos/a/b", None).is_err());
//! # Ok::<(), anyhow::Error>(())
//! ```

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use repro_core::rng::SplitMix64;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where requests may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum NetworkPolicy {
    /// Only `127.0.0.1`, `::1` and `localhost` (tests, every reproduction profile).
    #[default]
    LoopbackOnly,
    /// Any host (real collection; the caller opts in explicitly).
    Any,
}

/// Wall-clock seconds since the Unix epoch (injectable for tests).
pub trait Clock: Send + Sync {
    /// Now, in whole seconds.
    fn now_epoch(&self) -> u64;
}

/// Blocks the calling thread (injectable for tests).
pub trait Sleeper: Send + Sync {
    /// Waits `d`.
    fn sleep(&self, d: Duration);
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_epoch(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// `std::thread::sleep`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadSleeper;

impl Sleeper for ThreadSleeper {
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// A fake clock and sleeper in one: sleeping records the wait and advances the clock by
/// it, without blocking.
#[derive(Debug)]
pub struct FakeTime {
    /// Current time in nanoseconds since the epoch.
    now_ns: Mutex<u128>,
    /// Every wait, in order.
    waits: Mutex<Vec<Duration>>,
}

impl FakeTime {
    /// A fake clock standing at `epoch` seconds.
    pub fn new(epoch: u64) -> Self {
        Self {
            now_ns: Mutex::new(u128::from(epoch) * 1_000_000_000),
            waits: Mutex::new(Vec::new()),
        }
    }

    /// The waits so far, in order.
    pub fn waits(&self) -> Vec<Duration> {
        self.waits.lock().map(|w| w.clone()).unwrap_or_default()
    }

    /// Forgets the recorded waits (the clock keeps its time).
    pub fn clear_waits(&self) {
        if let Ok(mut w) = self.waits.lock() {
            w.clear();
        }
    }
}

impl Clock for FakeTime {
    fn now_epoch(&self) -> u64 {
        self.now_ns
            .lock()
            .map_or(0, |n| (*n / 1_000_000_000) as u64)
    }
}

impl Sleeper for FakeTime {
    fn sleep(&self, d: Duration) {
        if let Ok(mut n) = self.now_ns.lock() {
            *n += d.as_nanos();
        }
        if let Ok(mut w) = self.waits.lock() {
            w.push(d);
        }
    }
}

/// A secret (the API token): `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a token.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A repository, `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RepoId {
    /// Owner (user or organisation).
    pub owner: String,
    /// Repository name.
    pub name: String,
}

impl RepoId {
    /// `owner/name`.
    pub fn new(owner: &str, name: &str) -> Self {
        Self {
            owner: owner.into(),
            name: name.into(),
        }
    }

    /// Parses `owner/name` (exactly one `/`, both parts non-empty and URL-safe).
    pub fn parse(s: &str) -> Result<Self, GhError> {
        let ok = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        match s.split_once('/') {
            Some((o, n)) if ok(o) && ok(n) => Ok(Self::new(o, n)),
            _ => Err(GhError::Shape {
                url: String::new(),
                msg: format!("`{s}` is not a repository `owner/name`"),
            }),
        }
    }

    /// `owner__name`, the repository's folder in an [`IssueCache`](crate::collect::IssueCache).
    pub fn folder(&self) -> String {
        format!("{}__{}", self.owner, self.name)
    }
}

impl fmt::Display for RepoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// The relations of a `Link` header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRels {
    /// `rel="next"`.
    pub next: Option<String>,
    /// `rel="last"`.
    pub last: Option<String>,
    /// `rel="prev"`.
    pub prev: Option<String>,
    /// `rel="first"`.
    pub first: Option<String>,
}

/// Parses an RFC 8288 `Link` header as GitHub sends it:
/// `<url>; rel="next", <url>; rel="last"` (any order, any whitespace; unknown relations
/// and malformed parts are ignored; a part may carry several space-separated relations).
///
/// ```
/// use repro_llm_issues::github::parse_link_header;
/// let l = parse_link_header(r#"<https://x/p?page=2>; rel="next", <https://x/p?page=5>; rel="last""#);
/// assert_eq!(l.next.as_deref(), Some("https://x/p?page=2"));
/// assert_eq!(l.last.as_deref(), Some("https://x/p?page=5"));
/// assert_eq!(l.prev, None);
/// ```
pub fn parse_link_header(h: &str) -> LinkRels {
    let mut out = LinkRels::default();
    // URLs never contain `>`, so splitting on `,` after each `>` is safe even when a URL
    // holds commas.
    let mut rest = h;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let url = rest[open + 1..open + close].trim().to_owned();
        let after = &rest[open + close + 1..];
        let end = after.find(',').unwrap_or(after.len());
        let params = &after[..end];
        rest = &after[end..];
        for param in params.split(';') {
            let Some((k, v)) = param.split_once('=') else {
                continue;
            };
            if !k.trim().eq_ignore_ascii_case("rel") {
                continue;
            }
            for rel in v.trim().trim_matches('"').split_whitespace() {
                let slot = match rel.to_ascii_lowercase().as_str() {
                    "next" => &mut out.next,
                    "last" => &mut out.last,
                    "prev" => &mut out.prev,
                    "first" => &mut out.first,
                    _ => continue,
                };
                *slot = Some(url.clone());
            }
        }
    }
    out
}

/// Rate-limit headers of a response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// `x-ratelimit-remaining`.
    pub remaining: Option<u32>,
    /// `x-ratelimit-reset` (epoch seconds).
    pub reset_epoch: Option<u64>,
    /// `retry-after` (seconds).
    pub retry_after_s: Option<u64>,
}

/// One successful response.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The URL requested.
    pub url: String,
    /// The decoded JSON body (an array for list endpoints, an object for search ones).
    pub items: Value,
    /// Its `Link` relations.
    pub links: LinkRels,
    /// Its `ETag`.
    pub etag: Option<String>,
    /// Its rate-limit headers.
    pub rate: RateLimit,
}

/// The outcome of a conditional GET.
#[derive(Debug, Clone, PartialEq)]
pub enum GetResult {
    /// 200 with a body.
    Page(Box<Page>),
    /// 304: the cached copy is current.
    NotModified,
}

/// Everything that can go wrong talking to the API. Messages name the URL and never the
/// token.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GhError {
    /// The network policy refuses the URL.
    #[error("refused by the network policy: {url} ({reason})")]
    Policy {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// A status that is not retried (404, 410, 422, ...).
    #[error("GET {url}: HTTP {status}{}", excerpt(body))]
    Status {
        /// The URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The start of the body (redacted).
        body: String,
    },
    /// Retries exhausted.
    #[error("GET {url}: gave up after {attempts} attempts; last: {last}")]
    Retries {
        /// The URL.
        url: String,
        /// Requests made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The body is not the JSON expected.
    #[error("GET {url}: invalid JSON at line {line}, column {column}: {msg}")]
    Json {
        /// The URL.
        url: String,
        /// 1-based line in the body.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        msg: String,
    },
    /// The JSON does not have the fields expected.
    #[error("{url}: {msg}")]
    Shape {
        /// The URL (or empty).
        url: String,
        /// What is missing or wrong.
        msg: String,
    },
    /// The on-disk cache cannot be read or written.
    #[error("issue cache {path}{}: {msg}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Cache {
        /// The file.
        path: String,
        /// 1-based line, for a malformed line.
        line: Option<usize>,
        /// What failed.
        msg: String,
    },
}

fn excerpt(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(": {body}")
    }
}

/// A repository's metadata (`GET /repos/{o}/{r}` or a search hit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoMeta {
    /// `owner/name`.
    pub id: RepoId,
    /// `stargazers_count`.
    pub stars: u64,
    /// `pushed_at` (ISO 8601), empty when absent.
    pub pushed_at: String,
    /// `archived`.
    pub archived: bool,
    /// `description`, empty when null.
    pub description: String,
    /// `topics`.
    pub topics: Vec<String>,
}

impl RepoMeta {
    /// Reads the fields from a repository object; `url` names the source in errors.
    pub fn from_json(v: &Value, url: &str) -> Result<Self, GhError> {
        let shape = |msg: String| GhError::Shape {
            url: url.to_owned(),
            msg,
        };
        let full = v
            .get("full_name")
            .and_then(Value::as_str)
            .ok_or_else(|| shape("repository without `full_name`".into()))?;
        let id = RepoId::parse(full)?;
        Ok(Self {
            id,
            stars: v
                .get("stargazers_count")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            pushed_at: v
                .get("pushed_at")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            archived: v.get("archived").and_then(Value::as_bool).unwrap_or(false),
            description: v
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            topics: v
                .get("topics")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

/// The blocking client. Build it with [`GithubClient::new`] or [`GithubClient::from_env`],
/// then adjust with the `with_*` methods.
pub struct GithubClient {
    base: String,
    token: Option<Secret>,
    user_agent: String,
    policy: NetworkPolicy,
    max_retries: u32,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    jitter: Mutex<SplitMix64>,
    /// Reset epoch to wait for before the next request (after a 200 with remaining 0).
    pending_reset: Mutex<Option<u64>>,
    log: Mutex<Vec<String>>,
    echo_log: bool,
    agent: ureq::Agent,
}

impl fmt::Debug for GithubClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubClient")
            .field("base", &self.base)
            .field("token", &self.token)
            .field("user_agent", &self.user_agent)
            .field("policy", &self.policy)
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

/// The public API.
pub const DEFAULT_API: &str = "https://api.github.com";

/// The `User-Agent` sent (GitHub requires one).
pub const DEFAULT_USER_AGENT: &str = "repro-llm-issues/0.1 (+https://github.com/repro-ml/repro)";

/// Largest body read (GitHub pages of 100 issues are ~1 MB).
const MAX_BODY: u64 = 64 << 20;

/// Scheme, host and the rest of an absolute URL.
fn split_url(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    Some((scheme, host))
}

/// Whether `policy` lets a request reach `url`; the reason when not.
pub fn check_policy(policy: NetworkPolicy, url: &str) -> Result<(), String> {
    let Some((scheme, host)) = split_url(url) else {
        return Err("not an absolute http(s) URL".into());
    };
    if !matches!(scheme, "http" | "https") {
        return Err(format!("scheme `{scheme}` is not http or https"));
    }
    match policy {
        NetworkPolicy::Any => Ok(()),
        NetworkPolicy::LoopbackOnly => {
            if matches!(
                host.to_ascii_lowercase().as_str(),
                "127.0.0.1" | "::1" | "localhost"
            ) {
                Ok(())
            } else {
                Err(format!(
                    "host `{host}` is not loopback; real collection needs NetworkPolicy::Any (--allow-network)"
                ))
            }
        }
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
pub fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out += &format!("%{b:02X}");
        }
    }
    out
}

/// What one attempt gave.
enum Attempt {
    Done(Result<GetResult, GhError>),
    Retry { wait: Duration, why: String },
}

impl GithubClient {
    /// A client for `base` (`https://api.github.com`, or a fixture server's
    /// `http://127.0.0.1:port`), no token, the system clock and sleeper, 6 retries.
    /// Errors if the policy refuses `base`.
    pub fn new(base: &str, policy: NetworkPolicy) -> Result<Self, GhError> {
        let base = base.trim_end_matches('/').to_owned();
        check_policy(policy, &base).map_err(|reason| GhError::Policy {
            url: base.clone(),
            reason,
        })?;
        let mut cfg = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .user_agent(DEFAULT_USER_AGENT);
        if policy == NetworkPolicy::LoopbackOnly {
            // A proxy from the environment must never carry loopback traffic elsewhere.
            cfg = cfg.proxy(None);
        }
        Ok(Self {
            base,
            token: None,
            user_agent: DEFAULT_USER_AGENT.into(),
            policy,
            max_retries: 6,
            clock: Arc::new(SystemClock),
            sleeper: Arc::new(ThreadSleeper),
            jitter: Mutex::new(SplitMix64::new(0)),
            pending_reset: Mutex::new(None),
            log: Mutex::new(Vec::new()),
            echo_log: false,
            agent: cfg.build().into(),
        })
    }

    /// `GITHUB_API_URL` (default `https://api.github.com`) and `GITHUB_TOKEN`. With
    /// [`NetworkPolicy::LoopbackOnly`] and no `GITHUB_API_URL` pointing at loopback this
    /// fails, by design.
    pub fn from_env(policy: NetworkPolicy) -> Result<Self, GhError> {
        let base = std::env::var("GITHUB_API_URL").unwrap_or_else(|_| DEFAULT_API.into());
        let token = std::env::var("GITHUB_TOKEN").ok().filter(|t| !t.is_empty());
        Ok(Self::new(&base, policy)?.with_token(token))
    }

    /// Sets (or clears) the token, sent as `Authorization: Bearer`.
    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token.map(Secret::new);
        self
    }

    /// Injects the clock and the sleeper (tests pass one [`FakeTime`] as both).
    pub fn with_time(mut self, clock: Arc<dyn Clock>, sleeper: Arc<dyn Sleeper>) -> Self {
        self.clock = clock;
        self.sleeper = sleeper;
        self
    }

    /// Retries after the first attempt (default 6).
    pub fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Seed of the backoff jitter (default 0).
    pub fn with_jitter_seed(mut self, seed: u64) -> Self {
        self.jitter = Mutex::new(SplitMix64::new(seed));
        self
    }

    /// Echo every log line to stderr as well.
    pub fn with_echo_log(mut self, yes: bool) -> Self {
        self.echo_log = yes;
        self
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The request log so far (one line per attempt and per wait; never the token).
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Replaces the token (if any) in `s` with `***`.
    fn redact(&self, s: &str) -> String {
        match &self.token {
            Some(t) if !t.expose().is_empty() => s.replace(t.expose(), "***"),
            _ => s.to_owned(),
        }
    }

    fn log(&self, line: String) {
        let line = self.redact(&line);
        if self.echo_log {
            eprintln!("[github] {line}");
        }
        if let Ok(mut l) = self.log.lock() {
            l.push(line);
        }
    }

    fn sleep(&self, d: Duration, why: &str) {
        self.log(format!("wait {:.3} s ({why})", d.as_secs_f64()));
        self.sleeper.sleep(d);
    }

    /// An absolute URL for `url` (a path is joined to the base), checked against the policy.
    fn resolve(&self, url: &str) -> Result<String, GhError> {
        let abs = if url.starts_with('/') {
            format!("{}{url}", self.base)
        } else {
            url.to_owned()
        };
        check_policy(self.policy, &abs).map_err(|reason| GhError::Policy {
            url: self.redact(&abs),
            reason,
        })?;
        Ok(abs)
    }

    /// One conditional GET with the retry policy of the module docs.
    pub fn get(&self, url: &str, etag: Option<&str>) -> Result<GetResult, GhError> {
        let url = self.resolve(url)?;
        let pending = self.pending_reset.lock().ok().and_then(|mut p| p.take());
        if let Some(reset) = pending {
            let wait = reset.saturating_sub(self.clock.now_epoch()) + 1;
            self.sleep(Duration::from_secs(wait), "primary rate limit used up");
        }
        let mut last = String::new();
        for attempt in 0..=self.max_retries {
            match self.attempt(&url, etag, attempt) {
                Attempt::Done(r) => return r,
                Attempt::Retry { wait, why } => {
                    last = why;
                    if attempt < self.max_retries {
                        self.sleep(wait, &last);
                    }
                }
            }
        }
        Err(GhError::Retries {
            url: self.redact(&url),
            attempts: self.max_retries + 1,
            last: self.redact(&last),
        })
    }

    fn backoff_5xx(&self, attempt: u32) -> Duration {
        let base = 2f64.powi(attempt.min(6) as i32).min(64.0);
        let jitter = self.jitter.lock().map_or(0.0, |mut r| r.next_f64());
        Duration::from_secs_f64(base + jitter)
    }

    fn attempt(&self, url: &str, etag: Option<&str>, attempt: u32) -> Attempt {
        let mut req = self
            .agent
            .get(url)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .header("User-Agent", self.user_agent.as_str());
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {}", t.expose()).as_str());
        }
        if let Some(e) = etag {
            req = req.header("If-None-Match", e);
        }
        let resp = match req.call() {
            Ok(r) => r,
            Err(e) => {
                let why = self.redact(&format!("transport error: {e}"));
                self.log(format!("GET {url} (attempt {attempt}): {why}"));
                return Attempt::Retry {
                    wait: self.backoff_5xx(attempt),
                    why,
                };
            }
        };
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let rate = RateLimit {
            remaining: header("x-ratelimit-remaining").and_then(|v| v.trim().parse().ok()),
            reset_epoch: header("x-ratelimit-reset").and_then(|v| v.trim().parse().ok()),
            retry_after_s: header("retry-after").and_then(|v| v.trim().parse().ok()),
        };
        let links = header("link")
            .map(|h| parse_link_header(&h))
            .unwrap_or_default();
        let etag_out = header("etag");
        self.log(format!("GET {url} (attempt {attempt}) -> {status}"));
        let body = resp.into_body().with_config().limit(MAX_BODY).read_to_vec();
        match status {
            200 | 204 => {
                let bytes = match body {
                    Ok(b) => b,
                    Err(e) => {
                        let why = self.redact(&format!("body not read completely: {e}"));
                        self.log(format!("GET {url}: {why}"));
                        return Attempt::Retry {
                            wait: self.backoff_5xx(attempt),
                            why,
                        };
                    }
                };
                let items = if status == 204 || bytes.iter().all(u8::is_ascii_whitespace) {
                    Value::Array(Vec::new())
                } else {
                    match serde_json::from_slice::<Value>(&bytes) {
                        Ok(v) => v,
                        Err(e) => {
                            return Attempt::Done(Err(GhError::Json {
                                url: self.redact(url),
                                line: e.line(),
                                column: e.column(),
                                msg: e.to_string(),
                            }));
                        }
                    }
                };
                if rate.remaining == Some(0)
                    && let Some(reset) = rate.reset_epoch
                    && let Ok(mut p) = self.pending_reset.lock()
                {
                    *p = Some(reset);
                }
                Attempt::Done(Ok(GetResult::Page(Box::new(Page {
                    url: url.to_owned(),
                    items,
                    links,
                    etag: etag_out,
                    rate,
                }))))
            }
            304 => Attempt::Done(Ok(GetResult::NotModified)),
            403 | 429 => {
                let (wait, why) = if let Some(ra) = rate.retry_after_s {
                    (
                        Duration::from_secs(ra),
                        format!("HTTP {status}, retry-after {ra} s"),
                    )
                } else if rate.remaining == Some(0) {
                    let reset = rate.reset_epoch.unwrap_or(0);
                    let w = reset.saturating_sub(self.clock.now_epoch()) + 1;
                    (
                        Duration::from_secs(w),
                        format!("HTTP {status}, rate limit used up until {reset}"),
                    )
                } else {
                    let w = (60u64 << attempt.min(4)).min(900);
                    (
                        Duration::from_secs(w),
                        format!("HTTP {status}, secondary rate limit"),
                    )
                };
                Attempt::Retry { wait, why }
            }
            500..=599 => Attempt::Retry {
                wait: self.backoff_5xx(attempt),
                why: format!("HTTP {status}"),
            },
            _ => {
                let text = body
                    .map(|b| String::from_utf8_lossy(&b[..b.len().min(300)]).into_owned())
                    .unwrap_or_default();
                Attempt::Done(Err(GhError::Status {
                    url: self.redact(url),
                    status,
                    body: self.redact(text.trim()),
                }))
            }
        }
    }

    /// An unconditional GET that must return a page.
    fn get_page(&self, url: &str) -> Result<Page, GhError> {
        match self.get(url, None)? {
            GetResult::Page(p) => Ok(*p),
            GetResult::NotModified => Err(GhError::Shape {
                url: url.to_owned(),
                msg: "304 Not Modified to a request without If-None-Match".into(),
            }),
        }
    }

    /// Every page from `first`, following `Link: rel="next"` only.
    pub fn paginate<'a>(&'a self, first: &str) -> impl Iterator<Item = Result<Page, GhError>> + 'a {
        let mut next = Some(first.to_owned());
        std::iter::from_fn(move || {
            let url = next.take()?;
            let r = self.get_page(&url);
            if let Ok(p) = &r {
                next.clone_from(&p.links.next);
            }
            Some(r)
        })
    }

    /// `GET /repos/{owner}/{name}`.
    pub fn repo_meta(&self, owner: &str, name: &str) -> Result<RepoMeta, GhError> {
        let url = format!("/repos/{owner}/{name}");
        let p = self.get_page(&url)?;
        RepoMeta::from_json(&p.items, &p.url)
    }

    /// Contributors (anonymous included): the page number of `rel="last"` at one per page,
    /// else the length of the single page (0 for an empty repository, which GitHub answers
    /// with 204 or `[]`).
    pub fn contributors_count(&self, owner: &str, name: &str) -> Result<u64, GhError> {
        let url = format!("/repos/{owner}/{name}/contributors?per_page=1&anon=1");
        let p = self.get_page(&url)?;
        if let Some(last) = &p.links.last {
            return page_param(last).ok_or_else(|| GhError::Shape {
                url: p.url.clone(),
                msg: format!("rel=\"last\" link `{last}` has no page number"),
            });
        }
        match &p.items {
            Value::Array(a) => Ok(a.len() as u64),
            _ => Err(GhError::Shape {
                url: p.url,
                msg: "contributors: expected a JSON array".into(),
            }),
        }
    }

    /// Closed issues (pull requests excluded) from the search API's `total_count`.
    pub fn closed_issue_count(&self, owner: &str, name: &str) -> Result<u64, GhError> {
        let q = encode_query(&format!("repo:{owner}/{name} type:issue state:closed"));
        let p = self.get_page(&format!("/search/issues?q={q}&per_page=1"))?;
        p.items
            .get("total_count")
            .and_then(Value::as_u64)
            .ok_or_else(|| GhError::Shape {
                url: p.url,
                msg: "search result without `total_count`".into(),
            })
    }

    /// Repositories matching `query`, most starred first, at most `max` (the search API
    /// stops at 1 000).
    pub fn search_repos(&self, query: &str, max: usize) -> Result<Vec<RepoMeta>, GhError> {
        let first = format!(
            "/search/repositories?q={}&sort=stars&order=desc&per_page=100",
            encode_query(query)
        );
        let mut out = Vec::new();
        for page in self.paginate(&first) {
            let page = page?;
            let items = page
                .items
                .get("items")
                .and_then(Value::as_array)
                .ok_or_else(|| GhError::Shape {
                    url: page.url.clone(),
                    msg: "search result without `items`".into(),
                })?;
            for it in items {
                if out.len() >= max.min(1000) {
                    return Ok(out);
                }
                out.push(RepoMeta::from_json(it, &page.url)?);
            }
        }
        Ok(out)
    }
}

/// The `page` query parameter of a URL.
pub fn page_param(url: &str) -> Option<u64> {
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "page")
        .and_then(|(_, v)| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_in_any_order_with_whitespace() {
        let h = "  <https://a/x?page=1>;rel=\"first\" ,<https://a/x?page=9>; rel=\"last\",\n\t<https://a/x?page=3>;  rel=\"next\", <https://a/x?page=1>; rel=\"prev\"";
        let l = parse_link_header(h);
        assert_eq!(l.first.as_deref(), Some("https://a/x?page=1"));
        assert_eq!(l.last.as_deref(), Some("https://a/x?page=9"));
        assert_eq!(l.next.as_deref(), Some("https://a/x?page=3"));
        assert_eq!(l.prev.as_deref(), Some("https://a/x?page=1"));
        // On the last page GitHub sends only prev and first.
        let l = parse_link_header(
            r#"<https://a/x?page=8>; rel="prev", <https://a/x?page=1>; rel="first""#,
        );
        assert_eq!(l.next, None);
        assert_eq!(l.last, None);
        assert_eq!(l.prev.as_deref(), Some("https://a/x?page=8"));
        assert_eq!(parse_link_header(""), LinkRels::default());
        assert_eq!(parse_link_header("garbage; rel=next"), LinkRels::default());
        // Commas inside the URL do not split.
        let l = parse_link_header(r#"<https://a/x?q=a,b&page=2>; rel="next""#);
        assert_eq!(l.next.as_deref(), Some("https://a/x?q=a,b&page=2"));
        assert_eq!(page_param("https://a/x?q=a,b&page=2"), Some(2));
        assert_eq!(page_param("https://a/x"), None);
    }

    #[test]
    fn loopback_policy() {
        let lo = NetworkPolicy::LoopbackOnly;
        assert!(check_policy(lo, "https://api.github.com/repos/a/b").is_err());
        assert!(check_policy(lo, "http://127.0.0.1:8080/x").is_ok());
        assert!(check_policy(lo, "http://[::1]:8080/x").is_ok());
        assert!(check_policy(lo, "http://localhost/x").is_ok());
        // userinfo cannot smuggle another host past the check.
        assert!(check_policy(lo, "http://127.0.0.1@evil.example/x").is_err());
        assert!(check_policy(lo, "http://127.0.0.2/x").is_err());
        assert!(check_policy(lo, "ftp://127.0.0.1/x").is_err());
        assert!(check_policy(lo, "/relative").is_err());
        assert!(check_policy(NetworkPolicy::Any, "https://api.github.com/x").is_ok());
        let e = GithubClient::new("https://api.github.com", lo).unwrap_err();
        assert!(
            matches!(e, GhError::Policy { .. }) && e.to_string().contains("--allow-network"),
            "{e}"
        );
    }

    #[test]
    fn secret_and_client_debug_hide_the_token() {
        let c = GithubClient::new("http://127.0.0.1:1", NetworkPolicy::LoopbackOnly)
            .unwrap()
            .with_token(Some("ghp_TOPSECRET".into()));
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("ghp_TOPSECRET") && dbg.contains("***"),
            "{dbg}"
        );
        assert_eq!(format!("{}", Secret::new("x")), "***");
        assert_eq!(c.redact("a ghp_TOPSECRET b"), "a *** b");
    }

    #[test]
    fn repo_ids_and_query_encoding() {
        let r = RepoId::parse("ggml-org/llama.cpp").unwrap();
        assert_eq!(r.to_string(), "ggml-org/llama.cpp");
        assert_eq!(r.folder(), "ggml-org__llama.cpp");
        for bad in ["a", "a/b/c", "/b", "a/", "a b/c"] {
            assert!(RepoId::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            encode_query("LLM OR \"large language model\""),
            "LLM%20OR%20%22large%20language%20model%22"
        );
    }

    #[test]
    fn fake_time_advances_when_sleeping() {
        let t = FakeTime::new(100);
        t.sleep(Duration::from_millis(1500));
        assert_eq!(t.now_epoch(), 101);
        t.sleep(Duration::from_millis(600));
        assert_eq!(t.now_epoch(), 102);
        assert_eq!(t.waits().len(), 2);
    }
}
