//! The results book end to end: the committed dashboard is what the committed reports give,
//! the book builds with the pinned mdbook, every local link and image resolves, and every
//! page renders with its images in headless Chromium.
//!
//! Without network for the one-time mdbook install, or without `chromium`, the parts that
//! need them skip with a message, unless `REPRO_REQUIRE_BROWSER` is set (CI sets it).

use std::path::Path;

use repro_core::testing::TempDir;
use xtask::book;

fn required() -> bool {
    std::env::var_os("REPRO_REQUIRE_BROWSER").is_some()
}

/// `what`, or `None` after saying why the test skips; panics instead when required.
fn or_skip<T>(what: anyhow::Result<T>, need: &str) -> Option<T> {
    match what {
        Ok(t) => Some(t),
        Err(e) if !required() => {
            eprintln!(
                "skipping: {need} is not available ({e:#}); set REPRO_REQUIRE_BROWSER to fail instead"
            );
            None
        }
        Err(e) => panic!("{need} is required (REPRO_REQUIRE_BROWSER is set): {e:#}"),
    }
}

#[test]
fn the_committed_dashboard_is_what_the_committed_reports_give() {
    let expected = book::committed_dashboard().unwrap();
    let path = book::docs_dir().join("dashboard.md");
    let committed = std::fs::read_to_string(&path).unwrap();
    assert!(
        committed == expected,
        "{} is out of date: run `cargo xtask book` and commit it",
        path.display()
    );
    // Every claim every paper declares has its row.
    for paper in xtask::papers::PAPERS {
        assert!(
            committed.contains(&format!("## {}\n", paper.info.name)),
            "{}",
            paper.info.name
        );
        for claim in paper.info.claims {
            let row = format!("| **{}** ", book::md_text(claim.id));
            assert!(
                committed.contains(&row),
                "{}: no row for {}",
                paper.info.name,
                claim.id
            );
        }
    }
}

#[test]
fn the_book_builds_and_every_page_renders_with_its_images() {
    let Some(mdbook) = or_skip(book::mdbook(), "mdbook (installed from crates.io)") else {
        return;
    };
    let tmp = TempDir::new("book-test");
    let out = tmp.path().join("book");
    book::build(&mdbook, &book::docs_dir(), &out).unwrap();
    book::links_resolve(&out).unwrap();
    for page in ["index.html", "dashboard.html", "how-to-add-a-paper.html"] {
        assert!(out.join(page).is_file(), "{page}");
    }
    for paper in xtask::papers::PAPERS {
        let page = format!("papers/{}.html", paper.info.name);
        assert!(out.join(&page).is_file(), "{page}");
    }
    let Some(chromium) = or_skip(book::chromium(), "chromium") else {
        return;
    };
    let pages = book::browser_check(&chromium, &out).unwrap();
    let images = |name: &str| {
        pages
            .iter()
            .find(|p| p.page == name)
            .map(|p| p.images)
            .unwrap_or_else(|| panic!("{name} was not checked: {pages:?}"))
    };
    // The introduction shows the dashboard's screenshot; a paper chapter shows its plots.
    assert!(images("introduction.html") >= 1, "{pages:?}");
    assert!(images("papers/icl-ood.html") >= 10, "{pages:?}");
    images("dashboard.html");
    let png = tmp.path().join("dashboard.png");
    book::screenshot(&chromium, &out, "dashboard.html", &png).unwrap();
    let bytes = std::fs::read(&png).unwrap();
    // A 1280×1400 PNG: the IHDR chunk's width and height, big-endian, at bytes 16..24.
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert_eq!(&bytes[16..24], &[0, 0, 5, 0, 0, 0, 5, 120]);
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn chromium_catches_a_missing_image_and_an_empty_page() {
    let Some(chromium) = or_skip(book::chromium(), "chromium") else {
        return;
    };
    let tmp = TempDir::new("book-fixture");
    let root = tmp.path();
    let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10"><rect width="20" height="10"/></svg>"#;
    write(root, "img/ok.svg", svg);
    write(
        root,
        "index.html",
        r#"<html><body><main><p>fine</p><img src="img/ok.svg"></main></body></html>"#,
    );
    write(
        root,
        "sub/broken.html",
        r#"<html><body><main><p>one image is missing</p><img src="../img/ok.svg"><img src="../img/gone.png"></main></body></html>"#,
    );
    let pages = book::browser_check(&chromium, root);
    // Only what is broken is reported: the missing image (by page and src, and as a file
    // the pages asked for), nothing about the image that loaded.
    let err = format!("{:#}", pages.unwrap_err());
    assert!(
        err.contains("sub/broken.html: image `../img/gone.png` did not load"),
        "{err}"
    );
    assert!(err.contains("asked for /img/gone.png"), "{err}");
    assert!(!err.contains("ok.svg"), "{err}");
    assert!(!err.contains("index.html"), "{err}");
    // Fixed, the same pages pass, with their images counted.
    write(
        root,
        "sub/broken.html",
        r#"<html><body><main><p>fixed</p><img src="../img/ok.svg"></main></body></html>"#,
    );
    let pages = book::browser_check(&chromium, root).unwrap();
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert!(pages.iter().all(|p| p.images == 1), "{pages:?}");
    // A page that renders no text is reported, and so is an mdbook page whose sidebar
    // its JavaScript did not fill in.
    write(
        root,
        "empty.html",
        "<html><body><main></main></body></html>",
    );
    write(
        root,
        "nojs.html",
        "<html><body><mdbook-sidebar-scrollbox></mdbook-sidebar-scrollbox><main>text</main></body></html>",
    );
    let err = format!("{:#}", book::browser_check(&chromium, root).unwrap_err());
    assert!(err.contains("empty.html: rendered no text"), "{err}");
    assert!(
        err.contains("nojs.html: the sidebar has no chapter"),
        "{err}"
    );
    assert!(!err.contains("index.html"), "{err}");
}
