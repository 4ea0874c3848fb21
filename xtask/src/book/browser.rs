//! The browser check: the built book served on 127.0.0.1 by a small thread, every page
//! loaded in headless Chromium, and a screenshot of the dashboard.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use repro_core::report::write_atomic;

use super::links::{html_files, html_unescape, normalise, percent_decode};

/// Chromium: `$REPRO_CHROMIUM`, else `chromium` on the `PATH`.
pub fn chromium() -> Result<PathBuf> {
    if let Some(c) = std::env::var_os("REPRO_CHROMIUM") {
        let c = PathBuf::from(c);
        if !c.is_file() {
            bail!("REPRO_CHROMIUM is {}, which is not a file", c.display());
        }
        return Ok(c);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("chromium"))
        .find(|p| p.is_file())
        .context("no `chromium` on the PATH (Debian: apt-get install chromium), and REPRO_CHROMIUM is not set")
}

/// A static file server for one folder on 127.0.0.1, for as long as it lives. It records
/// every path it could not serve. `extra` pages are served from memory.
pub struct Server {
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    missing: Arc<Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Serves `root` (and `extra`: path without the leading `/`, body) on a free port.
    pub fn start(root: &Path, extra: Vec<(String, String)>) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").context("cannot listen on 127.0.0.1")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let missing = Arc::new(Mutex::new(Vec::new()));
        let (root, extra) = (root.to_path_buf(), Arc::new(extra));
        let (stop2, missing2) = (stop.clone(), missing.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (root, extra, missing) = (root.clone(), extra.clone(), missing2.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &root, &extra, &missing);
                });
            }
        });
        Ok(Self {
            addr,
            stop,
            missing,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT/` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    /// The paths requested so far that were not there (`/favicon.ico` aside).
    pub fn missing(&self) -> Vec<String> {
        self.missing.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    mut stream: TcpStream,
    root: &Path,
    extra: &[(String, String)],
    missing: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 65536 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buf[..n]);
    }
    let request = String::from_utf8_lossy(&request);
    let mut parts = request.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let path = percent_decode(target.split(['?', '#']).next().unwrap_or("/"));
    let rel = path.trim_start_matches('/');
    let body: Option<(Vec<u8>, &str)> =
        if let Some((_, page)) = extra.iter().find(|(p, _)| p == rel) {
            Some((page.clone().into_bytes(), "text/html; charset=utf-8"))
        } else {
            normalise(Path::new(rel)).and_then(|rel| {
                let mut file = root.join(&rel);
                if file.is_dir() {
                    file = file.join("index.html");
                }
                let data = std::fs::read(&file).ok()?;
                Some((data, content_type(&file)))
            })
        };
    let head_only = method == "HEAD";
    match body {
        Some((data, kind)) => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
                data.len()
            )?;
            if !head_only {
                stream.write_all(&data)?;
            }
        }
        None => {
            if path != "/favicon.ico"
                && let Ok(mut m) = missing.lock()
            {
                m.push(path.clone());
            }
            let msg = format!("not found: {path}");
            write!(
                stream,
                "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{msg}",
                msg.len()
            )?;
        }
    }
    stream.flush()
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "txt" | "md" | "toml" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// What the browser saw on one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCheck {
    /// The page, relative to the book.
    pub page: String,
    /// Its `<img>` elements, all loaded.
    pub images: usize,
}

/// The harness: loads each page in an iframe, waits for its images, and writes one
/// tab-separated line per page (`PAGE`, the page, its image count, the length of its text,
/// the links in mdbook's sidebar or -1) and per image that did not load (`BADIMG`, the page,
/// the `src`) into `<pre id="result">`, then `DONE`.
fn harness(pages: &[String]) -> String {
    let list = serde_json::to_string(pages).expect("strings serialise");
    format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>book check</title></head>
<body><pre id="result">PENDING</pre>
<iframe id="frame" style="width:1280px;height:1000px"></iframe>
<script>
const pages = {list};
const lines = [];
const frame = document.getElementById('frame');
function settle(img) {{
  if (img.complete) return Promise.resolve();
  return new Promise(r => {{ img.addEventListener('load', r); img.addEventListener('error', r); }});
}}
function next(i) {{
  if (i === pages.length) {{
    document.getElementById('result').textContent = lines.join('\n') + '\nDONE';
    return;
  }}
  frame.onload = () => {{
    const doc = frame.contentDocument;
    const imgs = Array.from(doc.images);
    Promise.all(imgs.map(settle)).then(() => {{
      const main = doc.querySelector('main') || doc.body;
      const text = main ? main.innerText.trim().length : 0;
      // mdbook's sidebar is filled in by its JavaScript: -1 on a page without one.
      const box = doc.querySelector('mdbook-sidebar-scrollbox');
      const toc = box ? box.querySelectorAll('a').length : -1;
      lines.push(['PAGE', pages[i], imgs.length, text, toc].join('\t'));
      for (const img of imgs) {{
        if (!(img.complete && img.naturalWidth > 0)) lines.push(['BADIMG', pages[i], img.getAttribute('src')].join('\t'));
      }}
      next(i + 1);
    }});
  }};
  frame.src = pages[i];
}}
next(0);
</script></body></html>
"#
    )
}

/// The flags every Chromium run gets: headless, no sandbox (containers), nothing fetched
/// from outside, a fresh profile in `profile`.
fn chromium_command(chromium: &Path, profile: &Path) -> Command {
    let mut c = Command::new(chromium);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// Runs `cmd` with its stdout into `stdout`, killing it after `limit`; returns the stdout
/// text or an error with the end of its stderr.
fn run_limited(mut cmd: Command, dir: &Path, limit: Duration) -> Result<String> {
    let out_path = dir.join("stdout.txt");
    let err_path = dir.join("stderr.txt");
    let out = std::fs::File::create(&out_path)?;
    let err = std::fs::File::create(&err_path)?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .context("cannot start chromium")?;
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break Some(s);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    match status {
        None => bail!(
            "chromium did not finish in {} s; its stderr ends:\n{}",
            limit.as_secs(),
            tail.join("\n")
        ),
        Some(s) if !s.success() => bail!(
            "chromium failed ({s}); its stderr ends:\n{}",
            tail.join("\n")
        ),
        Some(_) => Ok(stdout),
    }
}

/// Serves `book` on 127.0.0.1 and loads every HTML page of it (`toc.html`, the sidebar for
/// browsers without JavaScript, aside) in headless Chromium. Fails naming each page that
/// rendered no text or whose mdbook sidebar stayed empty, each `<img>` that did not load
/// (`naturalWidth` 0) and each file the pages asked for that is not in the book.
pub fn browser_check(chromium: &Path, book: &Path) -> Result<Vec<PageCheck>> {
    let mut pages = Vec::new();
    html_files(book, book, &mut pages)?;
    pages.retain(|p| p != "toc.html");
    pages.sort();
    if pages.is_empty() {
        bail!("{} has no HTML page", book.display());
    }
    let harness_name = "__repro_book_check__.html".to_owned();
    let server = Server::start(book, vec![(harness_name.clone(), harness(&pages))])?;
    let tmp = repro_core::testing::TempDir::new("book-chromium");
    let profile = tmp.path().join("profile");
    std::fs::create_dir_all(&profile)?;
    let mut cmd = chromium_command(chromium, &profile);
    cmd.args(["--virtual-time-budget=120000", "--dump-dom"])
        .arg(server.url(&harness_name));
    let dom = run_limited(cmd, tmp.path(), Duration::from_secs(180))?;
    let result = dom
        .split_once("<pre id=\"result\">")
        .and_then(|(_, r)| r.split_once("</pre>"))
        .map(|(r, _)| html_unescape(r))
        .context("chromium's DOM has no result block")?;
    if !result.trim_end().ends_with("DONE") {
        bail!(
            "chromium did not get through the pages in time; it got to:\n{}",
            result.trim()
        );
    }
    let mut problems = Vec::new();
    let mut checked = Vec::new();
    for line in result.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields[..] {
            ["BADIMG", page, src] => problems.push(format!("{page}: image `{src}` did not load")),
            ["PAGE", page, images, text, toc] => {
                let number = |f: &str| f.parse::<i64>().unwrap_or(0);
                if number(text) == 0 {
                    problems.push(format!("{page}: rendered no text"));
                }
                if number(toc) == 0 {
                    problems.push(format!(
                        "{page}: the sidebar has no chapter (the book's JavaScript did not run)"
                    ));
                }
                checked.push(PageCheck {
                    page: page.to_owned(),
                    images: number(images).max(0) as usize,
                });
            }
            _ => {}
        }
    }
    for path in server.missing() {
        problems.push(format!(
            "the pages asked for {path}, which is not in the book"
        ));
    }
    let seen: BTreeSet<&String> = checked.iter().map(|c| &c.page).collect();
    for p in &pages {
        if !seen.contains(p) {
            problems.push(format!("{p}: not checked"));
        }
    }
    if !problems.is_empty() {
        bail!(
            "{} problems in the book in {} seen by chromium:\n  {}",
            problems.len(),
            book.display(),
            problems.join("\n  ")
        );
    }
    Ok(checked)
}

/// Saves a 1280×1400 PNG screenshot of `page` of the served `book` to `png` (temporary file,
/// then rename).
pub fn screenshot(chromium: &Path, book: &Path, page: &str, png: &Path) -> Result<()> {
    let server = Server::start(book, Vec::new())?;
    let tmp = repro_core::testing::TempDir::new("book-screenshot");
    let profile = tmp.path().join("profile");
    std::fs::create_dir_all(&profile)?;
    let shot = tmp.path().join("shot.png");
    let mut cmd = chromium_command(chromium, &profile);
    cmd.arg(format!("--screenshot={}", shot.display()))
        .args(["--window-size=1280,1400", "--virtual-time-budget=10000"])
        .arg(server.url(page));
    run_limited(cmd, tmp.path(), Duration::from_secs(120))?;
    let bytes =
        std::fs::read(&shot).with_context(|| format!("chromium wrote no {}", shot.display()))?;
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        bail!("{} is not a PNG", shot.display());
    }
    let missing = server.missing();
    if !missing.is_empty() {
        bail!(
            "{page} asked for files that are not in the book: {}",
            missing.join(", ")
        );
    }
    write_atomic(png, &bytes)
}
