//! A scripted GitHub API on the loopback interface, for tests and for the reproduction's
//! collector experiment: no request ever leaves the machine.
//!
//! The server binds `127.0.0.1:0`, answers one connection at a time from a thread, and
//! stops by itself after `max_requests` connections or `max_duration`, whichever comes
//! first (or when dropped). Responses are looked up by request target (path and query):
//! one-shot **scripted** responses first (consumed in order: faults such as 5xx bursts,
//! rate limits, malformed or truncated bodies, dropped connections), then the persistent
//! **route**. A route with an `ETag` answers `304` to a matching `If-None-Match`. Header
//! values may hold `{now+N}`, replaced by the injected clock's time plus `N` seconds.
//!
//! [`install_repo`] and [`install_search`] lay out a repository's endpoints the way GitHub
//! serves them (Link headers, ETags, `total_count`), from [`FixtureRepo`] values (our own
//! synthetic issues, see [`crate::synthetic`]).
//!
//! ```
//! use repro_llm_issues::fixture::{FixtureResponse, FixtureServer};
//! let server = FixtureServer::start(Default::default())?;
//! server.route("/x", FixtureResponse::json("[1, 2]"));
//! server.script("/x", FixtureResponse::status(502));
//! assert!(server.base_url().starts_with("http://127.0.0.1:"));
//! assert_eq!(server.hits("/x"), 0);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::github::{Clock, RepoMeta, encode_query};

/// Bounds of a server's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixtureConfig {
    /// Connections served before the server stops.
    pub max_requests: usize,
    /// Lifetime before the server stops.
    pub max_duration: Duration,
}

impl Default for FixtureConfig {
    /// 10 000 connections, 120 s.
    fn default() -> Self {
        Self {
            max_requests: 10_000,
            max_duration: Duration::from_secs(120),
        }
    }
}

/// What the server does with a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Sends it whole.
    Whole,
    /// Announces the full `Content-Length` but sends only this many body bytes, then closes.
    Truncate(usize),
    /// Closes the connection without answering.
    Drop,
}

/// One scripted answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureResponse {
    /// HTTP status.
    pub status: u16,
    /// Extra headers (`Content-Length` and `Connection: close` are added).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// Whole, truncated or dropped.
    pub delivery: Delivery,
}

impl FixtureResponse {
    /// 200 with a JSON body.
    pub fn json(body: &str) -> Self {
        Self {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
            delivery: Delivery::Whole,
        }
    }

    /// A status with a small JSON message body.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: format!("{{\"message\": \"fixture status {status}\"}}").into_bytes(),
            delivery: Delivery::Whole,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces the body.
    pub fn body(mut self, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self
    }

    /// Sends only `n` body bytes after announcing all of them.
    pub fn truncated(mut self, n: usize) -> Self {
        self.delivery = Delivery::Truncate(n);
        self
    }

    /// A dropped connection (no response at all).
    pub fn dropped() -> Self {
        Self {
            status: 0,
            headers: Vec::new(),
            body: Vec::new(),
            delivery: Delivery::Drop,
        }
    }

    fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, ...
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Status answered (0 for a dropped connection).
    pub status: u16,
}

impl RecordedRequest {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Shared {
    routes: HashMap<String, FixtureResponse>,
    scripts: HashMap<String, VecDeque<FixtureResponse>>,
    requests: Vec<RecordedRequest>,
}

/// The loopback server; stops when dropped.
pub struct FixtureServer {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FixtureServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixtureServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FixtureServer {
    /// Starts a server with the system clock for `{now+N}` placeholders.
    pub fn start(cfg: FixtureConfig) -> std::io::Result<Self> {
        Self::start_with_clock(cfg, Arc::new(crate::github::SystemClock))
    }

    /// Starts a server whose `{now+N}` placeholders read `clock` (share a
    /// [`FakeTime`](crate::github::FakeTime) with the client under test).
    pub fn start_with_clock(cfg: FixtureConfig, clock: Arc<dyn Clock>) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(Shared::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (sh, st) = (shared.clone(), stop.clone());
        let handle = std::thread::Builder::new()
            .name("fixture-server".into())
            .spawn(move || serve(&listener, cfg, &sh, &st, clock.as_ref()))?;
        Ok(Self {
            addr,
            shared,
            stop,
            handle: Some(handle),
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets the persistent response for `target` (path and query).
    pub fn route(&self, target: &str, resp: FixtureResponse) {
        if let Ok(mut s) = self.shared.lock() {
            s.routes.insert(target.into(), resp);
        }
    }

    /// Queues a one-shot response for `target`, served before its route.
    pub fn script(&self, target: &str, resp: FixtureResponse) {
        if let Ok(mut s) = self.shared.lock() {
            s.scripts.entry(target.into()).or_default().push_back(resp);
        }
    }

    /// Drops every scripted response not yet served.
    pub fn clear_scripts(&self) {
        if let Ok(mut s) = self.shared.lock() {
            s.scripts.clear();
        }
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .lock()
            .map(|s| s.requests.clone())
            .unwrap_or_default()
    }

    /// Requests to `target` so far.
    pub fn hits(&self, target: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.target == target)
            .count()
    }

    /// Stops the server and waits for its thread.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for FixtureServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(
    listener: &TcpListener,
    cfg: FixtureConfig,
    shared: &Mutex<Shared>,
    stop: &AtomicBool,
    clock: &dyn Clock,
) {
    let started = Instant::now();
    let mut served = 0usize;
    while !stop.load(Ordering::SeqCst)
        && started.elapsed() < cfg.max_duration
        && served < cfg.max_requests
    {
        match listener.accept() {
            Ok((stream, _)) => {
                served += 1;
                let _ = handle(stream, shared, clock);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

/// Reads the request head (GET requests carry no body).
fn read_head(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 64 * 1024 {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(buf)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        304 => "Not Modified",
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Replaces `{now}` and `{now+N}` with epoch seconds.
fn fill(v: &str, clock: &dyn Clock) -> String {
    let Some(start) = v.find("{now") else {
        return v.to_owned();
    };
    let Some(end) = v[start..].find('}') else {
        return v.to_owned();
    };
    let inner = &v[start + 4..start + end];
    let offset: u64 = inner.trim_start_matches('+').parse().unwrap_or(0);
    format!(
        "{}{}{}",
        &v[..start],
        clock.now_epoch() + offset,
        &v[start + end + 1..]
    )
}

fn handle(mut stream: TcpStream, shared: &Mutex<Shared>, clock: &dyn Clock) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let head = read_head(&mut stream)?;
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let method = first.next().unwrap_or("").to_owned();
    let target = first.next().unwrap_or("").to_owned();
    let headers: Vec<(String, String)> = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let resp = {
        let mut s = shared
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        let scripted = s.scripts.get_mut(&target).and_then(VecDeque::pop_front);
        let resp = match scripted {
            Some(r) => r,
            None => match s.routes.get(&target) {
                Some(r) => {
                    let inm = headers
                        .iter()
                        .find(|(k, _)| k == "if-none-match")
                        .map(|(_, v)| v.as_str());
                    match (r.header_value("etag"), inm) {
                        (Some(e), Some(i)) if e == i => FixtureResponse {
                            status: 304,
                            headers: vec![("ETag".into(), e.into())],
                            body: Vec::new(),
                            delivery: Delivery::Whole,
                        },
                        _ => r.clone(),
                    }
                }
                None => FixtureResponse::status(404),
            },
        };
        s.requests.push(RecordedRequest {
            method,
            target,
            headers,
            status: if resp.delivery == Delivery::Drop {
                0
            } else {
                resp.status
            },
        });
        resp
    };
    if resp.delivery == Delivery::Drop {
        return Ok(());
    }
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        resp.status,
        reason(resp.status),
        if resp.status == 304 || resp.status == 204 {
            0
        } else {
            resp.body.len()
        }
    );
    for (k, v) in &resp.headers {
        out += &format!("{k}: {}\r\n", fill(v, clock));
    }
    out += "\r\n";
    stream.write_all(out.as_bytes())?;
    if resp.status != 304 && resp.status != 204 {
        let n = match resp.delivery {
            Delivery::Truncate(n) => n.min(resp.body.len()),
            _ => resp.body.len(),
        };
        stream.write_all(&resp.body[..n])?;
    }
    stream.flush()?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    Ok(())
}

/// A repository served by the fixture.
#[derive(Debug, Clone, PartialEq)]
pub struct FixtureRepo {
    /// Metadata served at `/repos/{o}/{r}` and in search results.
    pub meta: RepoMeta,
    /// Contributors (served as `rel="last"` at one per page).
    pub contributors: u64,
    /// Closed issue and pull-request items in GitHub's JSON shape, in creation order.
    pub items: Vec<Value>,
    /// Comments per issue number, in GitHub's JSON shape.
    pub comments: BTreeMap<u64, Vec<Value>>,
}

impl FixtureRepo {
    /// Items that are issues (no `pull_request` key).
    pub fn issue_count(&self) -> usize {
        self.items
            .iter()
            .filter(|i| i.get("pull_request").is_none())
            .count()
    }
}

/// A weak ETag for `body` (FNV-1a of its bytes).
pub fn etag_of(body: &str) -> String {
    format!("W/\"{:016x}\"", crate::text::fnv1a64(body.as_bytes()))
}

/// Repository metadata as GitHub's JSON.
pub fn repo_json(m: &RepoMeta) -> Value {
    json!({
        "full_name": m.id.to_string(),
        "name": m.id.name,
        "owner": {"login": m.id.owner},
        "stargazers_count": m.stars,
        "pushed_at": m.pushed_at,
        "archived": m.archived,
        "description": m.description,
        "topics": m.topics,
    })
}

/// The issues URL the collector requests first for `repo` at `per_page`.
pub fn issues_target(owner: &str, name: &str, per_page: usize) -> String {
    format!(
        "/repos/{owner}/{name}/issues?state=closed&sort=created&direction=asc&per_page={per_page}"
    )
}

/// Page `k` (1-based) of a paginated target: page 1 is the target itself.
pub fn page_target(first: &str, k: usize) -> String {
    if k == 1 {
        first.to_owned()
    } else {
        format!("{first}&page={k}")
    }
}

/// Link header for page `k` of `n` (GitHub's: next and last, then prev and first).
fn link_header(base: &str, first: &str, k: usize, n: usize) -> Option<String> {
    let url = |p: usize| format!("{base}{}", page_target(first, p));
    let mut parts = Vec::new();
    if k < n {
        parts.push(format!("<{}>; rel=\"next\"", url(k + 1)));
        parts.push(format!("<{}>; rel=\"last\"", url(n)));
    }
    if k > 1 {
        parts.push(format!("<{}>; rel=\"prev\"", url(k - 1)));
        parts.push(format!("<{}>; rel=\"first\"", url(1)));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Serves `items` as pages of `per_page` from `first`, with Link headers and ETags.
/// Returns the number of pages (0 items still serve one empty page).
pub fn install_pages(
    server: &FixtureServer,
    first: &str,
    items: &[Value],
    per_page: usize,
) -> usize {
    let per_page = per_page.max(1);
    let n = items.len().div_ceil(per_page).max(1);
    let base = server.base_url();
    for k in 1..=n {
        let chunk = &items[((k - 1) * per_page).min(items.len())..(k * per_page).min(items.len())];
        let body = Value::Array(chunk.to_vec()).to_string();
        let mut r = FixtureResponse::json(&body).header("ETag", &etag_of(&body));
        if let Some(l) = link_header(&base, first, k, n) {
            r = r.header("Link", &l);
        }
        server.route(&page_target(first, k), r);
    }
    n
}

/// Lays out one repository: metadata, contributors, the closed-issue count, issue pages
/// of `per_page` and every commented issue's comments. Returns the issue pages.
pub fn install_repo(server: &FixtureServer, repo: &FixtureRepo, per_page: usize) -> usize {
    let (o, n) = (&repo.meta.id.owner, &repo.meta.id.name);
    let base = server.base_url();
    server.route(
        &format!("/repos/{o}/{n}"),
        FixtureResponse::json(&repo_json(&repo.meta).to_string()),
    );
    let contrib = format!("/repos/{o}/{n}/contributors?per_page=1&anon=1");
    let c = if repo.contributors == 0 {
        FixtureResponse::status(204).body(b"")
    } else {
        let mut r = FixtureResponse::json(r#"[{"login": "someone", "contributions": 7}]"#);
        if repo.contributors > 1 {
            r = r.header(
                "Link",
                &format!(
                    "<{base}{contrib}&page=2>; rel=\"next\", <{base}{contrib}&page={}>; rel=\"last\"",
                    repo.contributors
                ),
            );
        }
        r
    };
    server.route(&contrib, c);
    let q = encode_query(&format!("repo:{o}/{n} type:issue state:closed"));
    server.route(
        &format!("/search/issues?q={q}&per_page=1"),
        FixtureResponse::json(
            &json!({"total_count": repo.issue_count(), "incomplete_results": false, "items": []})
                .to_string(),
        ),
    );
    for (num, comments) in &repo.comments {
        let t = format!("/repos/{o}/{n}/issues/{num}/comments?per_page=100");
        install_pages(server, &t, comments, 100);
    }
    install_pages(
        server,
        &issues_target(o, n, per_page),
        &repo.items,
        per_page,
    )
}

/// Serves the discovery search for `query` over `repos` (already in star order).
pub fn install_search(server: &FixtureServer, query: &str, repos: &[RepoMeta], per_page: usize) {
    let first = format!(
        "/search/repositories?q={}&sort=stars&order=desc&per_page={per_page}",
        encode_query(query)
    );
    let per_page = per_page.max(1);
    let n = repos.len().div_ceil(per_page).max(1);
    let base = server.base_url();
    for k in 1..=n {
        let chunk = &repos[((k - 1) * per_page).min(repos.len())..(k * per_page).min(repos.len())];
        let body = json!({
            "total_count": repos.len(),
            "incomplete_results": false,
            "items": chunk.iter().map(repo_json).collect::<Vec<_>>(),
        })
        .to_string();
        let mut r = FixtureResponse::json(&body);
        if let Some(l) = link_header(&base, &first, k, n) {
            r = r.header("Link", &l);
        }
        server.route(&page_target(&first, k), r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::FakeTime;

    #[test]
    fn placeholders_read_the_clock() {
        let t = FakeTime::new(1000);
        assert_eq!(fill("{now+120}", &t), "1120");
        assert_eq!(fill("x{now}y", &t), "x1000y");
        assert_eq!(fill("plain", &t), "plain");
    }

    #[test]
    fn link_headers_of_first_middle_last() {
        let b = "http://h";
        let f = "/r?per_page=2";
        assert_eq!(
            link_header(b, f, 1, 3).unwrap(),
            "<http://h/r?per_page=2&page=2>; rel=\"next\", <http://h/r?per_page=2&page=3>; rel=\"last\""
        );
        let last = link_header(b, f, 3, 3).unwrap();
        assert!(
            last.contains("rel=\"prev\"") && !last.contains("next"),
            "{last}"
        );
        assert_eq!(link_header(b, f, 1, 1), None);
    }

    #[test]
    fn server_stops_by_itself_after_its_request_budget() {
        let server = FixtureServer::start(FixtureConfig {
            max_requests: 1,
            max_duration: Duration::from_secs(5),
        })
        .unwrap();
        server.route("/a", FixtureResponse::json("[]"));
        let addr = server.base_url().trim_start_matches("http://").to_owned();
        let mut s = TcpStream::connect(&addr).unwrap();
        s.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 200 OK"), "{out}");
        // The budget is spent: the thread ends and the listener closes.
        let t = Instant::now();
        loop {
            let refused = TcpStream::connect(&addr)
                .and_then(|mut s| {
                    s.set_read_timeout(Some(Duration::from_millis(200)))?;
                    s.write_all(b"GET /a HTTP/1.1\r\n\r\n")?;
                    let mut b = [0u8; 16];
                    s.read(&mut b)
                })
                .map_or(true, |n| n == 0);
            if refused {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "server still answering"
            );
        }
        assert_eq!(server.hits("/a"), 1);
    }
}
