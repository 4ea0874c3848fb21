//! The GitHub client and the issue cache against the loopback fixture server: pagination,
//! rate-limit waits on a fake clock, retries, resume byte-equality, ETag revalidation,
//! the loopback policy, token redaction, and bad responses that must not corrupt the cache.

use std::sync::Arc;
use std::time::Duration;

use repro_llm_issues::collect::{CollectOpts, IssueCache, collect_closed_issues};
use repro_llm_issues::fixture::{
    FixtureConfig, FixtureResponse, FixtureServer, install_repo, issues_target, page_target,
};
use repro_llm_issues::github::{FakeTime, GetResult, GhError, GithubClient, NetworkPolicy, RepoId};
use repro_llm_issues::synthetic::fixture_repo;

const T0: u64 = 1_700_000_000;

fn setup() -> (FixtureServer, Arc<FakeTime>) {
    let time = Arc::new(FakeTime::new(T0));
    let server = FixtureServer::start_with_clock(
        FixtureConfig {
            max_requests: 5000,
            max_duration: Duration::from_secs(60),
        },
        time.clone(),
    )
    .unwrap();
    (server, time)
}

fn client(server: &FixtureServer, time: &Arc<FakeTime>) -> GithubClient {
    GithubClient::new(&server.base_url(), NetworkPolicy::LoopbackOnly)
        .unwrap()
        .with_time(time.clone(), time.clone())
}

fn tmp(tag: &str) -> repro_core::testing::TempDir {
    repro_core::testing::TempDir::new(tag)
}

fn secs(w: &[Duration]) -> Vec<f64> {
    w.iter().map(Duration::as_secs_f64).collect()
}

#[test]
fn paginates_250_items_with_20_prs_into_230_issues_in_number_order() {
    let (server, time) = setup();
    let repo = fixture_repo("acme", "llm-a", 250, 20, 1);
    let pages = install_repo(&server, &repo, 100);
    assert_eq!(pages, 3);
    let c = client(&server, &time);
    let dir = tmp("paginate");
    let cache = IssueCache::new(dir.path());
    let stats = collect_closed_issues(&c, &repo.meta.id, &cache, &CollectOpts::default()).unwrap();
    assert_eq!(stats.issues_total, 230);
    assert_eq!(stats.prs_skipped, 20);
    assert_eq!(stats.pages_fetched, 3);
    let issues = cache.load_issues(&repo.meta.id).unwrap();
    assert_eq!(issues.len(), 230);
    assert!(issues.windows(2).all(|w| w[0].number < w[1].number));
    // Comments are joined back.
    let commented = issues.iter().find(|i| i.n_comments > 0).unwrap();
    assert_eq!(commented.comments.len(), commented.n_comments as usize);
    // Only rel="next" was followed: each page requested once, never a `last` jump.
    let first = issues_target("acme", "llm-a", 100);
    for k in 1..=3 {
        assert_eq!(server.hits(&page_target(&first, k)), 1, "page {k}");
    }
    assert!(time.waits().is_empty());
}

#[test]
fn rate_limits_and_retries_on_a_fake_clock() {
    let (server, time) = setup();
    server.route("/x", FixtureResponse::json("[]"));
    let c = client(&server, &time).with_jitter_seed(3);
    // 403 with remaining 0 and reset now + 120: one sleep of 121 s, then success.
    server.script(
        "/x",
        FixtureResponse::status(403)
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", "{now+120}"),
    );
    assert!(matches!(c.get("/x", None).unwrap(), GetResult::Page(_)));
    assert_eq!(secs(&time.waits()), [121.0]);
    time.clear_waits();
    // 429 with retry-after 7: a sleep of 7 s.
    server.script(
        "/x",
        FixtureResponse::status(429).header("retry-after", "7"),
    );
    c.get("/x", None).unwrap();
    assert_eq!(secs(&time.waits()), [7.0]);
    time.clear_waits();
    // 502, 502, 200: sleeps 1 + jitter, 2 + jitter (jitter in [0, 1)).
    server.script("/x", FixtureResponse::status(502));
    server.script("/x", FixtureResponse::status(502));
    c.get("/x", None).unwrap();
    let w = secs(&time.waits());
    assert_eq!(w.len(), 2);
    assert!(
        (1.0..2.0).contains(&w[0]) && (2.0..3.0).contains(&w[1]),
        "{w:?}"
    );
    time.clear_waits();
    // Secondary limit (403 without remaining 0): 60 s, then 120 s.
    server.script("/x", FixtureResponse::status(403));
    server.script("/x", FixtureResponse::status(403));
    c.get("/x", None).unwrap();
    assert_eq!(secs(&time.waits()), [60.0, 120.0]);
    time.clear_waits();
    // A 200 that uses up the budget: the next request first waits for the reset.
    server.script(
        "/x",
        FixtureResponse::json("[]")
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", "{now+30}"),
    );
    c.get("/x", None).unwrap();
    assert!(time.waits().is_empty());
    c.get("/x", None).unwrap();
    assert_eq!(secs(&time.waits()), [31.0]);
    time.clear_waits();
    // max_retries exceeded: an error after 1 + 2 attempts and 2 sleeps.
    let c2 = client(&server, &time).with_max_retries(2);
    for _ in 0..3 {
        server.script("/x", FixtureResponse::status(503));
    }
    let before = server.hits("/x");
    let e = c2.get("/x", None).unwrap_err();
    assert!(matches!(e, GhError::Retries { attempts: 3, .. }), "{e}");
    assert_eq!(server.hits("/x") - before, 3);
    assert_eq!(time.waits().len(), 2);
    time.clear_waits();
    // 404: no retry.
    let before = server.hits("/missing");
    let e = c.get("/missing", None).unwrap_err();
    assert!(matches!(e, GhError::Status { status: 404, .. }), "{e}");
    assert_eq!(server.hits("/missing") - before, 1);
    for status in [410, 422] {
        server.script("/x", FixtureResponse::status(status));
        let e = c.get("/x", None).unwrap_err();
        assert!(
            matches!(e, GhError::Status { status: s, .. } if s == status),
            "{e}"
        );
    }
    assert!(time.waits().is_empty());
}

#[test]
fn truncated_bodies_and_dropped_connections_are_retried() {
    let (server, time) = setup();
    server.route("/x", FixtureResponse::json("[1, 2, 3]"));
    server.script("/x", FixtureResponse::json("[1, 2, 3]").truncated(3));
    server.script("/x", FixtureResponse::dropped());
    let c = client(&server, &time);
    let GetResult::Page(p) = c.get("/x", None).unwrap() else {
        panic!("expected a page");
    };
    assert_eq!(p.items, serde_json::json!([1, 2, 3]));
    assert_eq!(time.waits().len(), 2);
    // Malformed JSON is a clear error naming the URL and position, not retried.
    server.script("/x", FixtureResponse::json("[{\"id\": 1,"));
    let before = server.hits("/x");
    let e = c.get("/x", None).unwrap_err();
    assert!(matches!(e, GhError::Json { .. }), "{e}");
    assert!(
        e.to_string().contains("/x") && e.to_string().contains("line 1"),
        "{e}"
    );
    assert_eq!(server.hits("/x") - before, 1);
}

#[test]
fn resumed_collection_is_byte_equal_and_etags_give_304_without_rewrite() {
    let (server, time) = setup();
    let repo = fixture_repo("acme", "llm-b", 250, 20, 2);
    install_repo(&server, &repo, 100);
    let id = repo.meta.id.clone();
    let c = client(&server, &time).with_max_retries(2);
    let opts = CollectOpts::default();

    let whole = tmp("whole");
    let cache_a = IssueCache::new(whole.path());
    collect_closed_issues(&c, &id, &cache_a, &opts).unwrap();

    // The server drops every connection to page 3: the run fails after page 2.
    let third = page_target(&issues_target("acme", "llm-b", 100), 3);
    for _ in 0..3 {
        server.script(&third, FixtureResponse::dropped());
    }
    let broken = tmp("broken");
    let cache_b = IssueCache::new(broken.path());
    let e = collect_closed_issues(&c, &id, &cache_b, &opts).unwrap_err();
    assert!(matches!(e, GhError::Retries { .. }), "{e}");
    let st = cache_b.load_state(&id).unwrap();
    assert!(
        !st.complete && st.pages_done == 2 && st.next_url.as_deref().unwrap().ends_with("page=3")
    );
    // Never half-written: the cache holds whole pages and no temporary file.
    assert!(!cache_b.load_issues(&id).unwrap().is_empty());
    let names: Vec<String> = std::fs::read_dir(cache_b.repo_dir(&id))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".tmp")), "{names:?}");
    // Resume.
    let stats = collect_closed_issues(&c, &id, &cache_b, &opts).unwrap();
    assert!(stats.resumed && stats.complete && stats.pages_fetched == 1);
    let bytes = |cache: &IssueCache| std::fs::read(cache.issues_path(&id)).unwrap();
    assert_eq!(bytes(&cache_a), bytes(&cache_b));
    assert_eq!(
        std::fs::read(cache_a.state_path(&id)).unwrap(),
        std::fs::read(cache_b.state_path(&id)).unwrap()
    );
    for n in repo.comments.keys() {
        assert_eq!(
            std::fs::read(cache_a.comments_path(&id, *n)).unwrap(),
            std::fs::read(cache_b.comments_path(&id, *n)).unwrap()
        );
    }

    // Rerun of a complete collection: If-None-Match on every page, all 304, no rewrite.
    let before = server.requests().len();
    let mtime = std::fs::metadata(cache_a.issues_path(&id))
        .unwrap()
        .modified()
        .unwrap();
    let stats = collect_closed_issues(&c, &id, &cache_a, &opts).unwrap();
    assert_eq!(
        (
            stats.pages_not_modified,
            stats.pages_fetched,
            stats.rewritten
        ),
        (3, 0, false)
    );
    let reqs = &server.requests()[before..];
    assert_eq!(reqs.len(), 3);
    assert!(
        reqs.iter()
            .all(|r| r.status == 304 && r.header("if-none-match").is_some())
    );
    assert_eq!(
        std::fs::metadata(cache_a.issues_path(&id))
            .unwrap()
            .modified()
            .unwrap(),
        mtime
    );
}

#[test]
fn malformed_pages_leave_the_cache_consistent_and_max_pages_resumes() {
    let (server, time) = setup();
    let repo = fixture_repo("acme", "llm-c", 150, 0, 3);
    install_repo(&server, &repo, 50);
    let id = repo.meta.id.clone();
    let c = client(&server, &time);
    let opts = CollectOpts {
        per_page: 50,
        ..CollectOpts::default()
    };
    let second = page_target(&issues_target("acme", "llm-c", 50), 2);
    server.script(&second, FixtureResponse::json("[{\"id\": 5, \"number\""));
    let dir = tmp("malformed");
    let cache = IssueCache::new(dir.path());
    let e = collect_closed_issues(&c, &id, &cache, &opts).unwrap_err();
    assert!(matches!(e, GhError::Json { .. }), "{e}");
    assert_eq!(cache.load_issues(&id).unwrap().len(), 50);
    assert_eq!(cache.load_state(&id).unwrap().pages_done, 1);
    // A crash mid-append leaves a partial line: it is cut off on the next run.
    let p = cache.issues_path(&id);
    let mut text = std::fs::read_to_string(&p).unwrap();
    text += "{\"id\": 9";
    std::fs::write(&p, text).unwrap();
    assert_eq!(cache.load_issues(&id).unwrap().len(), 50);
    // Page budget: one page per call, then resume to the end.
    let one = CollectOpts {
        max_pages: Some(1),
        ..opts.clone()
    };
    let s = collect_closed_issues(&c, &id, &cache, &one).unwrap();
    assert!(!s.complete && s.issues_total == 100);
    let s = collect_closed_issues(&c, &id, &cache, &opts).unwrap();
    assert!(s.complete && s.issues_total == 150);
    // A corrupt line in the middle is an error naming the file and line.
    let mut lines: Vec<String> = std::fs::read_to_string(&p)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    lines[3] = "not json".into();
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    let e = cache.load_issues(&id).unwrap_err().to_string();
    assert!(e.contains("issues.jsonl, line 4"), "{e}");
}

#[test]
fn loopback_policy_and_token_redaction() {
    let (server, time) = setup();
    let token = "ghp_SUPERSECRET123";
    let c = client(&server, &time).with_token(Some(token.into()));
    let e = c.get("https://api.github.com/repos/a/b", None).unwrap_err();
    assert!(matches!(e, GhError::Policy { .. }), "{e}");
    // The server echoes the Authorization header in an error body: it must not surface.
    server.route(
        "/echo",
        FixtureResponse::status(422)
            .body(format!("{{\"message\": \"bad token Bearer {token}\"}}").as_bytes()),
    );
    let e = c.get("/echo", None).unwrap_err();
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(token) && shown.contains("***"), "{shown}");
    // The token was sent.
    let sent = server
        .requests()
        .into_iter()
        .find(|r| r.target == "/echo")
        .unwrap();
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    assert!(
        sent.header("user-agent")
            .is_some_and(|u| u.contains("repro-llm-issues"))
    );
    assert_eq!(sent.header("accept"), Some("application/vnd.github+json"));
    // Nowhere in the log or the Debug output.
    server.script("/echo", FixtureResponse::status(502));
    let _ = c.get("/echo", None);
    let log = c.log_lines().join("\n");
    assert!(!log.contains(token) && log.contains("/echo"), "{log}");
    assert!(!format!("{c:?}").contains(token));
}

#[test]
fn repository_facts_from_the_fixture() {
    let (server, time) = setup();
    let mut repo = fixture_repo("acme", "llm-d", 30, 5, 4);
    repo.contributors = 37;
    install_repo(&server, &repo, 100);
    let c = client(&server, &time);
    assert_eq!(c.contributors_count("acme", "llm-d").unwrap(), 37);
    assert_eq!(c.closed_issue_count("acme", "llm-d").unwrap(), 25);
    assert_eq!(c.repo_meta("acme", "llm-d").unwrap(), repo.meta);
    // A single contributor: one page, no Link header. None: 204, not 1.
    for (n, expected) in [(1, 1), (0, 0)] {
        let mut r = fixture_repo("acme", &format!("llm-e{n}"), 3, 0, 5);
        r.contributors = n;
        install_repo(&server, &r, 100);
        assert_eq!(
            c.contributors_count("acme", &format!("llm-e{n}")).unwrap(),
            expected
        );
    }
    // An empty repository has no issues and one empty page, and the cache says so.
    let empty = fixture_repo("acme", "llm-empty", 0, 0, 6);
    install_repo(&server, &empty, 100);
    let dir = tmp("empty");
    let cache = IssueCache::new(dir.path());
    let s = collect_closed_issues(
        &c,
        &RepoId::new("acme", "llm-empty"),
        &cache,
        &CollectOpts::default(),
    )
    .unwrap();
    assert_eq!((s.issues_total, s.issues_new, s.complete), (0, 0, true));
    assert!(
        cache
            .load_issues(&RepoId::new("acme", "llm-empty"))
            .unwrap()
            .is_empty()
    );
}
